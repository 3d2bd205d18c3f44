//! The `shoal` command line.
fn main() {
    eprintln!("shoal: no commands yet");
    std::process::exit(2);
}
