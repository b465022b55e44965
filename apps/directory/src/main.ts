console.log("dir main", Bun.argv.slice(2));
