//! kefu-edge-workers: the workers shim. Not built yet; it lands with the edge issue
//! and will only translate platform types onto kefu-edge's platform trait.
#![no_std]
