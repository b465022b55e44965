/** Fixtures for tests outside the app (the GC protocol simulation). */
export * from "./fixtures.ts";
