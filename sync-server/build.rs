// `sqlx::migrate!` embeds the cloud's migrations at compile time; without
// this a new migration file would not rebuild the server.
fn main() {
    println!("cargo::rerun-if-changed=../migrations/cloud");
}
