//! kefu-edge-host: an in-process wasmtime 48 host that runs the real Spin
//! component (kefu-edge-spin, `target/edge/kefu-edge-spin.wasm`) the way
//! Spin does, for tests and benches.
//!
//! `wasmtime serve` cannot link `spin:*` imports, so the Spin build's
//! storage path (Spin key-value) is exercised here instead:
//!
//! | import | what this host gives it |
//! |---|---|
//! | `wasi:http/handler@0.3.0` (export) | called once per request ([`SpinHost::handle`]) |
//! | `wasi:http/client@0.3.0`, `wasi:http/types@0.3.0` | `wasmtime-wasi-http`'s p3 implementation with its default `send_request`: outbound calls really go out |
//! | `wasi:cli/*@0.2.6`, other WASIp2 / WASIp3 | `wasmtime-wasi` (stderr inherited, nothing else) |
//! | `spin:key-value/key-value@3.0.0` | [`Kv`]: one in-memory map shared by every request of a [`SpinHost`]; only the store labelled `default` opens |
//! | `spin:variables/variables@3.0.0` | the variables given at construction; any other name is `undefined` |
//!
//! Like Spin, every request gets a fresh store and instance (instantiated
//! from a [`ServicePre`] compiled once), so nothing in the guest's memory
//! carries over; only the key-value map does.
//!
//! The WIT of the two Spin packages is spin-sdk 7.0.0's own
//! (`wit/deps/`, copied verbatim).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use wasmtime::component::{Accessor, Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::component::{FutureReader, StreamReader};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::Request as WasiRequest;
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "kefu:edge-host/spin-host",
        imports: {
            // Making its stream and future can fail (a full table): a trap.
            "spin:key-value/key-value.[method]store.get-keys": trappable,
        },
        with: {
            "spin:key-value/key-value.store": super::OpenStore,
        },
        require_store_data_send: true,
    });
}

use bindings::spin::key_value::key_value;
use bindings::spin::variables::variables;

/// The label of the one store the component may open (`spin.toml`:
/// `key_value_stores = ["default"]`).
pub const DEFAULT_STORE: &str = "default";

/// Guest instances the pooling allocator keeps room for; more concurrent
/// requests than this fail to instantiate.
const POOL_INSTANCES: u32 = 64;

/// The in-memory Spin key-value store: key to raw stored bytes.
///
/// Cloning shares the map. The values are what the guest wrote (kefu-edge-spin
/// puts an 8-byte big-endian expiry in front of each value).
#[derive(Clone, Default)]
pub struct Kv(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl fmt::Debug for Kv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kv").field("entries", &self.len()).finish()
    }
}

impl Kv {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Vec<u8>>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of every entry.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.with(|m| m.clone())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The host side of an open `spin:key-value` store resource.
#[derive(Debug)]
pub struct OpenStore {
    kv: Kv,
}

/// How guest instances get their memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Allocation {
    /// Pre-reserved slots ([`PoolingAllocationConfig`]), as Spin runs.
    #[default]
    Pooling,
    /// `mmap` per instance (wasmtime's default).
    OnDemand,
}

/// Builds a [`SpinHost`].
#[derive(Debug)]
pub struct SpinHostBuilder {
    component: std::path::PathBuf,
    allocation: Allocation,
    variables: BTreeMap<String, String>,
}

impl SpinHostBuilder {
    /// Sets the Spin variable `name` (e.g. `regional_url`,
    /// `regional_secret`).
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.variables.insert(name.into(), value.into());
        self
    }

    /// Chooses the instance allocator (default: pooling).
    pub fn allocation(mut self, allocation: Allocation) -> Self {
        self.allocation = allocation;
        self
    }

    /// Compiles the component and links it.
    pub fn build(self) -> anyhow::Result<SpinHost> {
        let mut config = Config::new();
        config.wasm_component_model_async(true);
        if self.allocation == Allocation::Pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(POOL_INSTANCES)
                .total_core_instances(POOL_INSTANCES * 4)
                .total_memories(POOL_INSTANCES * 2)
                .total_tables(POOL_INSTANCES * 4)
                .total_stacks(POOL_INSTANCES)
                .max_memory_size(256 << 20);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let component = Component::from_file(&engine, &self.component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compile {}", self.component.display()))?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        key_value::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        variables::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("link the component")?;
        let pre = ServicePre::new(pre).map_err(anyhow::Error::from)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(SpinHost {
            engine,
            pre,
            kv: Kv::default(),
            variables: Arc::new(self.variables),
            runtime: Arc::new(runtime),
        })
    }
}

/// The Spin component, compiled once, served in process.
pub struct SpinHost {
    engine: Engine,
    pre: ServicePre<HostState>,
    kv: Kv,
    variables: Arc<BTreeMap<String, String>>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl fmt::Debug for SpinHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinHost")
            .field("kv", &self.kv)
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl SpinHost {
    /// The component at `component_path` with the pooling allocator and no
    /// variables; see [`SpinHost::builder`] for more.
    pub fn new(component_path: impl AsRef<Path>) -> anyhow::Result<SpinHost> {
        Self::builder(component_path).build()
    }

    /// A builder for the component at `component_path`.
    pub fn builder(component_path: impl AsRef<Path>) -> SpinHostBuilder {
        SpinHostBuilder {
            component: component_path.as_ref().to_owned(),
            allocation: Allocation::default(),
            variables: BTreeMap::new(),
        }
    }

    /// Another host over the same compiled component (no second compile),
    /// with an empty key-value store of its own and these variables.
    pub fn fresh<K, V>(&self, variables: impl IntoIterator<Item = (K, V)>) -> SpinHost
    where
        K: Into<String>,
        V: Into<String>,
    {
        SpinHost {
            engine: self.engine.clone(),
            pre: self.pre.clone(),
            kv: Kv::default(),
            variables: Arc::new(
                variables
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            runtime: Arc::clone(&self.runtime),
        }
    }

    /// The shared key-value store (every request of this host sees it).
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// A copy of the key-value store's entries.
    pub fn kv_snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.kv.snapshot()
    }

    fn new_store(&self) -> Store<HostState> {
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        Store::new(
            &self.engine,
            HostState {
                table: ResourceTable::new(),
                wasi,
                http: WasiHttpCtx::new(),
                kv: self.kv.clone(),
                variables: Arc::clone(&self.variables),
            },
        )
    }

    /// Serves one request on a fresh instance, as Spin does. A trap or a
    /// host failure is a 500 whose body names it (see
    /// [`SpinHost::try_handle`] to tell them apart).
    pub fn handle(&self, req: http::Request<Bytes>) -> http::Response<Bytes> {
        self.try_handle(req).unwrap_or_else(|e| {
            let mut r = http::Response::new(Bytes::from(format!("kefu-edge-host: {e:#}")));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }

    /// Serves one request on a fresh instance; `Err` is a trap, a link or
    /// instantiation failure, or the guest's `error-code`.
    pub fn try_handle(&self, req: http::Request<Bytes>) -> anyhow::Result<http::Response<Bytes>> {
        self.runtime.block_on(self.handle_async(req))
    }

    /// [`SpinHost::try_handle`], for callers already in a tokio runtime.
    pub async fn handle_async(
        &self,
        req: http::Request<Bytes>,
    ) -> anyhow::Result<http::Response<Bytes>> {
        let req = with_absolute_uri(req)?;
        let mut store = self.new_store();
        let service = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)?;
        let req = req.map(http_body_util::Full::new);
        let (req, io) = WasiRequest::from_http(wasmtime_wasi_http::default_hooks(), req);
        let res: http::Response<Bytes> = store
            .run_concurrent(async move |store| {
                let response = async {
                    let res = match service.handle(store, req).await? {
                        Ok(res) => res,
                        Err(code) => {
                            return Err(wasmtime::format_err!("guest error-code: {code:?}"));
                        }
                    };
                    let res = store.with(|store| res.into_http(store, async { Ok(()) }))?;
                    let (parts, body) = res.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map_err(|e| wasmtime::format_err!("response body: {e:?}"))?
                        .to_bytes();
                    Ok(http::Response::from_parts(parts, body))
                };
                let request_body = async {
                    io.await
                        .map_err(|e| wasmtime::format_err!("request body: {e:?}"))
                };
                let (res, ()) = futures_join(response, request_body).await?;
                Ok::<_, wasmtime::Error>(res)
            })
            .await
            .map_err(anyhow::Error::from)?
            .map_err(anyhow::Error::from)?;
        Ok(res)
    }

    /// Instantiates the component once in a fresh store and drops it (the
    /// per-request cost the bench measures).
    pub fn instantiate_once(&self) -> anyhow::Result<()> {
        self.runtime.block_on(async {
            let mut store = self.new_store();
            self.pre
                .instantiate_async(&mut store)
                .await
                .map_err(anyhow::Error::from)?;
            Ok(())
        })
    }
}

/// The request with a scheme and authority, as Spin hands it to the guest
/// (from the `host` header, else `localhost`); an absolute URI is kept.
fn with_absolute_uri(mut req: http::Request<Bytes>) -> anyhow::Result<http::Request<Bytes>> {
    if req.uri().scheme().is_some() {
        return Ok(req);
    }
    let authority = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_owned();
    *req.uri_mut() = http::Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()?;
    Ok(req)
}

/// Both futures to completion; the first error wins.
async fn futures_join<A, B>(
    a: impl Future<Output = wasmtime::Result<A>>,
    b: impl Future<Output = wasmtime::Result<B>>,
) -> wasmtime::Result<(A, B)> {
    tokio::try_join!(a, b)
}

/// One request's store data.
struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    kv: Kv,
    variables: Arc<BTreeMap<String, String>>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

fn other(e: impl fmt::Display) -> key_value::Error {
    key_value::Error::Other(e.to_string())
}

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

/// The open store behind `store`, cloned out of the table.
fn open_kv<T>(
    accessor: &Accessor<T, HasSelf<HostState>>,
    store: &Resource<OpenStore>,
) -> Result<Kv, key_value::Error> {
    accessor.with(|mut a| {
        a.get()
            .table
            .get(store)
            .map(|s| s.kv.clone())
            .map_err(other)
    })
}

impl<T> key_value::HostStoreWithStore<T> for HasSelf<HostState> {
    async fn open(
        accessor: &Accessor<T, Self>,
        label: String,
    ) -> Result<Resource<OpenStore>, key_value::Error> {
        if label != DEFAULT_STORE {
            return Err(key_value::Error::NoSuchStore);
        }
        accessor.with(|mut a| {
            let state = a.get();
            let kv = state.kv.clone();
            state.table.push(OpenStore { kv }).map_err(other)
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        let kv = open_kv(accessor, &store)?;
        Ok(kv.with(|m| m.get(&key).cloned()))
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        let kv = open_kv(accessor, &store)?;
        kv.with(|m| m.insert(key, value));
        Ok(())
    }

    async fn delete(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<(), key_value::Error> {
        let kv = open_kv(accessor, &store)?;
        kv.with(|m| m.remove(&key));
        Ok(())
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<bool, key_value::Error> {
        let kv = open_kv(accessor, &store)?;
        Ok(kv.with(|m| m.contains_key(&key)))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<(
        StreamReader<String>,
        FutureReader<Result<(), key_value::Error>>,
    )> {
        let keys = open_kv(accessor, &store).map(|kv| kv.with(|m| m.keys().cloned().collect()));
        accessor.with(|mut a| {
            let (keys, result): (Vec<String>, _) = match keys {
                Ok(k) => (k, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            };
            let stream = StreamReader::new(&mut a, keys)?;
            let fut = FutureReader::new(&mut a, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((stream, fut))
        })
    }
}

impl variables::Host for HostState {}

impl<T> variables::HostWithStore<T> for HasSelf<HostState> {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, variables::Error> {
        accessor.with(|mut a| {
            a.get()
                .variables
                .get(&name)
                .cloned()
                .ok_or(variables::Error::Undefined(name))
        })
    }
}
