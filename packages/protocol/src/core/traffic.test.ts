/** Traffic counts: buckets by latency, differences between samples, quantiles from above. */
import { expect, test } from "bun:test";
import {
  countRequest,
  latencyQuantileMs,
  newTrafficCount,
  TRAFFIC_LATENCY_BUCKETS,
  trafficBetween,
} from "./traffic.ts";

test("a request lands in the first bucket whose bound it does not pass; slower ones in the last", () => {
  const traffic = newTrafficCount();
  countRequest(traffic, true, 0.4);
  countRequest(traffic, true, 1);
  countRequest(traffic, false, 7);
  countRequest(traffic, true, 60_000);
  expect(traffic.requests).toBe(4);
  expect(traffic.failed).toBe(1);
  expect(traffic.latencyBuckets[0]).toBe(2);
  expect(traffic.latencyBuckets[3]).toBe(1); // 5 < 7 <= 10
  expect(traffic.latencyBuckets[TRAFFIC_LATENCY_BUCKETS - 1]).toBe(1);
});

test("the difference of two samples counts what happened between them", () => {
  const earlier = newTrafficCount();
  countRequest(earlier, true, 3);
  const later = structuredClone(earlier);
  countRequest(later, false, 150);
  countRequest(later, true, 150);
  const between = trafficBetween(earlier, later);
  expect(between?.requests).toBe(2);
  expect(between?.failed).toBe(1);
  expect(between?.latencyBuckets[7]).toBe(2);
  expect(between?.latencyBuckets[2]).toBe(0);
});

test("a count that went down (the node restarted) gives no difference", () => {
  const earlier = newTrafficCount();
  countRequest(earlier, true, 3);
  expect(trafficBetween(earlier, newTrafficCount())).toBeNull();
});

test("quantiles answer the bucket's upper bound, and null without requests", () => {
  const traffic = newTrafficCount();
  expect(latencyQuantileMs(traffic.latencyBuckets, 0.5)).toBeNull();
  for (let i = 0; i < 98; i += 1) countRequest(traffic, true, 1.5);
  countRequest(traffic, true, 300);
  countRequest(traffic, true, 9_000);
  expect(latencyQuantileMs(traffic.latencyBuckets, 0.5)).toBe(2);
  expect(latencyQuantileMs(traffic.latencyBuckets, 0.99)).toBe(500);
  expect(latencyQuantileMs(traffic.latencyBuckets, 1)).toBe(5_000);
});
