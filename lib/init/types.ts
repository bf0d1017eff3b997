/** The shape of files embedded in the program for `dmonitor init`. @module */
/** One file of the example tree or a shipped plugin, embedded in the program. */
export interface EmbeddedFile {
  /** Path relative to the config tree, e.g. `plugins/check_disk`. */
  path: string;
  /** 0o644 for configuration, 0o755 for plugins. */
  mode: number;
  text: string;
}
