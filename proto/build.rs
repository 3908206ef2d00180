use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("minutier_descriptor.bin"))
        .compile_protos(
            &[
                "proto/minutier/v1/archive.proto",
                "proto/minutier/v1/admin.proto",
                "proto/minutier/v1/lifecycle.proto",
                "proto/minutier/v1/replication.proto",
                "proto/minutier/v1/transfer.proto",
            ],
            &["proto"],
        )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
