/** Every node started with the same address set names the same interim primary. */
import { expect, test } from "bun:test";
import { interimPrimaryAddress } from "./interim-primary.ts";

test("the lowest address wins, by host then numeric port, whoever asks", () => {
  const all = ["127.0.0.1:7103", "127.0.0.1:7101", "127.0.0.1:7102"];
  for (const self of all) {
    expect(interimPrimaryAddress(self, all.filter((a) => a !== self))).toBe("127.0.0.1:7101");
  }
  expect(interimPrimaryAddress("127.0.0.1:900", ["127.0.0.1:10000"])).toBe("127.0.0.1:900");
  expect(interimPrimaryAddress("127.0.0.1:7101", [])).toBe("127.0.0.1:7101");
});
