//! Compiles `proto/*.proto` with protox (a pure Rust .proto compiler), so building needs
//! no system `protoc`, then generates the Rust types with prost-build.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest.join("../../proto");
    let files = [
        proto_dir.join("peer.proto"),
        proto_dir.join("client.proto"),
        proto_dir.join("witness.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&proto_dir])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
