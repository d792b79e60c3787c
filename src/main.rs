fn main() -> std::process::ExitCode {
    pregon::cli::main()
}
