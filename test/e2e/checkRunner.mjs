// The e2e checks' runner: each check is a named async body returning a detail line; the first failure takes a
// screenshot and blocks the checks after it in the same group (they depend on the state it should have left).
export function checkRunner(wb) {
  const results = [];
  let blocked = null;
  const check = async (name, body) => {
    if (blocked) {
      results.push({ name, ok: false, detail: `not run: "${blocked}" failed` });
      console.log(`  ✗ ${name} (not run)`);
      return;
    }
    const t0 = Date.now();
    try {
      const detail = (await body()) ?? '';
      results.push({ name, ok: true, detail });
      console.log(`  ✓ ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s) ${detail}`);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      results.push({ name, ok: false, detail });
      console.log(`  ✗ ${name}: ${detail}`);
      await wb.screenshot(`FAILED-${name.replace(/\W+/g, '-')}`);
      blocked = name;
    }
  };
  return { check, results };
}
