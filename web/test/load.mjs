// Measures how soon the page is usable on a running `whospoke serve`
// (BASE_URL, KEY, CHROMIUM; RUNS fresh browser contexts, default 20), for
// BENCHMARKS.md: signed out, the time from navigation start to the page's
// "whospoke-usable" mark (sign-in form wired); signed in (key already in
// the browser's storage), the time until the app is shown, which waits for
// the key check (GET /v1/test). Prints the median and the slowest of each.
import { chromium } from "playwright-core";

const { BASE_URL, KEY, CHROMIUM } = process.env;
const runs = Number(process.env.RUNS ?? 20);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });

async function once(signedIn) {
  const ctx = await browser.newContext();
  if (signedIn) await ctx.addInitScript((k) => localStorage.setItem("whospoke.key", k), KEY);
  const page = await ctx.newPage();
  await page.goto(BASE_URL);
  let ms;
  if (signedIn) {
    await page.locator("#app").waitFor();
    ms = await page.evaluate(() => performance.getEntriesByName("whospoke-app-shown")[0].startTime);
  } else {
    await page.waitForSelector("body[data-ready]");
    ms = await page.evaluate(() => performance.getEntriesByName("whospoke-usable")[0].startTime);
  }
  await ctx.close();
  return ms;
}

const summary = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, slowest ${s[s.length - 1].toFixed(0)} ms (${s.length} runs)`;
};
try {
  for (const signedIn of [false, true]) {
    await once(signedIn); // the first context also starts the browser's renderer
    const xs = [];
    for (let i = 0; i < runs; i++) xs.push(await once(signedIn));
    console.log(`${signedIn ? "signed in, app shown" : "signed out, usable mark"}: ${summary(xs)}`);
  }
} finally {
  await browser.close();
}
