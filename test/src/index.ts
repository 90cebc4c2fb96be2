// Shared helpers of the cross-service suites.
export * from "./http.ts";
export * from "./sse.ts";
