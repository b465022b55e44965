/**
 * Dates as S3 requests carry them, read without the runtime's clock or Date: x-amz-date
 * (sigv4.ts) and the HTTP dates of conditional headers (RFC 9110 §5.6.7: IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms a recipient must accept), all UTC.
 */

const MS_PER_DAY = 86_400_000;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** RFC 850 gives two-digit years: those this far or less past the century are this century's. */
const TWO_DIGIT_YEAR_PIVOT = 50;

/** A UTC date and time as epoch milliseconds; null unless every field is in range. */
export function utcMs(
  year: number | undefined,
  month: number | undefined,
  day: number | undefined,
  hour: number | undefined,
  minute: number | undefined,
  second: number | undefined,
): number | null {
  if (
    year === undefined ||
    month === undefined ||
    day === undefined ||
    hour === undefined ||
    minute === undefined ||
    second === undefined
  ) {
    return null;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  return daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000;
}

/** An HTTP date (or an ISO 8601 UTC time, which some clients send) in epoch ms; null if none. */
export function httpDateMs(text: string): number | null {
  const trimmed = text.trim();
  const fixdate = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(
    trimmed,
  );
  if (fixdate !== null) {
    const [, day, month, year, hour, minute, second] = fixdate;
    return fromParts(year, month, day, hour, minute, second);
  }
  const rfc850 = /^[A-Za-z]+, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(
    trimmed,
  );
  if (rfc850 !== null) {
    const [, day, month, shortYear, hour, minute, second] = rfc850;
    const yy = Number(shortYear);
    const year = String(yy <= TWO_DIGIT_YEAR_PIVOT ? 2000 + yy : 1900 + yy);
    return fromParts(year, month, day, hour, minute, second);
  }
  const asctime = /^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/.exec(
    trimmed,
  );
  if (asctime !== null) {
    const [, month, day, hour, minute, second, year] = asctime;
    return fromParts(year, month, day, hour, minute, second);
  }
  const iso = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|\+00:00)$/.exec(
    trimmed,
  );
  if (iso !== null) {
    const [, year, month, day, hour, minute, second] = iso.map(Number);
    return utcMs(year, month, day, hour, minute, second);
  }
  return null;
}

function fromParts(
  year: string | undefined,
  monthName: string | undefined,
  day: string | undefined,
  hour: string | undefined,
  minute: string | undefined,
  second: string | undefined,
): number | null {
  const month = MONTHS.indexOf(monthName ?? "") + 1;
  if (month === 0) return null;
  return utcMs(Number(year), month, Number(day), Number(hour), Number(minute), Number(second));
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}
