/**
 * What a file-system error means to the storage node: its code, and the two answers it acts
 * on (the disk is full; the file is not there). One place, so every store reads them alike.
 */

/** Error codes of the file system that mean "no room". */
const NO_SPACE_CODES: ReadonlySet<string> = new Set(["ENOSPC", "EDQUOT"]);

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

export function isNoSpace(error: unknown): boolean {
  return NO_SPACE_CODES.has(errorCode(error) ?? "");
}

export function isMissing(error: unknown): boolean {
  return errorCode(error) === "ENOENT";
}
