/** Users' authentication, pure: SCRAM verifiers and proofs, session tokens, login nonces. */
export * from "./bytes.ts";
export * from "./scram.ts";
export * from "./session-token.ts";
export * from "./acts-for.ts";
export * from "./sigv4.ts";
