//! kefu-edge: the platform-neutral edge handlers.
//!
//! Not built yet: this crate exists so the workspace has its final shape. The
//! handlers (session lookup, limits, cached answers, forwarding, store-and-
//! forward) land with the edge issue. Nothing here serves traffic today.
#![no_std]
