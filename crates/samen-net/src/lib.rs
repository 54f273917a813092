//! samen transport: framed, versioned channels over TCP with mutual TLS (rustls), in-process channels, test certificates
#![forbid(unsafe_code)]
#![deny(missing_docs)]
