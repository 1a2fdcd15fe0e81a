// The operator's commands: one thin file per subcommand (parse, call, print, exit code), the
// context that wires keys, config and ledger together, `check`'s checks, and progress output.
// May import: every folder below (foundations, ledger/, stripe/, delivery/, pass/, http/).
// src/cli.ts alone imports this folder.
export {};
