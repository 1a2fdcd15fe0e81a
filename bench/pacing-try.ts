import { pacingCell } from "./pacing";
void (async () => {
  const [lat, rate, n, passes] = process.argv.slice(2).map(Number);
  const t = Date.now();
  const c = await pacingCell(lat ?? 250, rate ?? 5, n ?? 100, passes ?? 1);
  console.log(JSON.stringify(c), Date.now() - t);
})();
