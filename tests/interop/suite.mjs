// Helpers shared by the interop suites: a timeout around every wait, and one line per
// check ("ok NAME" or "FAIL NAME: why") with a failure count.

/** `promise`, or a rejection naming `what` after `ms` milliseconds. */
export function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Ends the process with "FAIL suite: overall timeout" and status 1 after `ms`
 *  milliseconds, whatever is still waiting. */
export function overallTimeout(ms) {
  setTimeout(() => {
    console.log("FAIL suite: overall timeout");
    process.exit(1);
  }, ms).unref();
}

/** Runs checks; `after` runs after each one (cleanup). */
export function checker(after = () => {}) {
  const state = { failed: 0 };
  state.check = async (name, fn) => {
    try {
      await fn();
      console.log(`ok ${name}`);
    } catch (e) {
      state.failed++;
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : e}`);
    } finally {
      after();
    }
  };
  return state;
}
