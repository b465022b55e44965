#!/usr/bin/env bun
console.log("ftfs stub");
