// No console window behind the till on Windows.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    sentra_pos::run();
}
