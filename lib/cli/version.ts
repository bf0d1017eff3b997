/** The release version; `make build` does not rewrite it, so bump it here for a release. */
export const VERSION = "0.1.0";
