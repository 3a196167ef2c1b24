"""Pure functions: lake keys and JSON values, SQL rendering and parsing, flow parameters, Redshift
error classification and its statement contract, text repair. No warehouse file, no server; the
pre-commit hook runs this folder."""
