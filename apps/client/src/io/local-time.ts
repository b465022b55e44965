/** Times as people read them, in this machine's time zone: the one clock-reading formatter. */

/** `2025-11-24 07:28:01` in the local time zone: what `ls -l` users read at a glance. */
export function formatLocalTime(timeMs: number): string {
  const date = new Date(timeMs);
  const two = (value: number): string => String(value).padStart(2, "0");
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  return `${day} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
