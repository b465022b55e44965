/** Bounds of the CLI itself (the library's are in @ftfs/client). */

/** Progress bars redraw at most this often, so a fast transfer does not flood the terminal. */
export const PROGRESS_REDRAW_INTERVAL_MS = 100;
/** Width of a progress bar's bar, in terminal columns. */
export const PROGRESS_BAR_COLUMNS = 24;
