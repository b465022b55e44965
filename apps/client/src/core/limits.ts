/** Bounds of the CLI itself (the library's are in @ftfs/client). */

/** Progress bars redraw at most this often, so a fast transfer does not flood the terminal. */
export const PROGRESS_REDRAW_INTERVAL_MS = 100;
/** Width of a progress bar's bar, in terminal columns. */
export const PROGRESS_BAR_COLUMNS = 24;
/** A progress line's label (the file name) is cut to this many columns. */
export const PROGRESS_LABEL_COLUMNS = 32;
/**
 * Files `put -r` uploads in one run: a user's whole file quota by default (100,000), and what
 * one listing can show (LIST_FILES_MAX). A larger tree is refused before anything is sent.
 */
export const PUT_TREE_FILES_MAX = 100_000;
/** Problems a refused `put -r` names in its one line; the count says how many more. */
export const PUT_TREE_PROBLEMS_SHOWN_MAX = 3;
/**
 * Upload journals an upload looks at to remove those past their deadline: enough that a
 * folder of given-up uploads empties over a few runs, few enough that the look costs nothing.
 */
export const JOURNALS_PRUNED_MAX = 64;
