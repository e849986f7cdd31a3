fn main() {
    // The UI is embedded at compile time; say how to build it rather than
    // failing deep inside the context macro.
    let dist = std::path::Path::new("../ui/dist/index.html");
    if !dist.exists() {
        println!(
            "cargo::warning=ui/dist is missing: run `npm ci && npm run build` in ui/ (scripts/build-ui.sh) before building the app"
        );
    }
    println!("cargo::rerun-if-changed=../ui/dist");
    tauri_build::build()
}
