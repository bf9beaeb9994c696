// One node process for many calendars: read one JSON string (an iCalendar
// body) per line on stdin, answer one JSON line per input on stdout with
// what Mozilla's ical.js reads from each event (read_ics.cjs; or {"error": ...}).
// Used by the hypothesis properties, which parse thousands of calendars.
// Usage: node tests/js/parse_ics_lines.cjs
"use strict";
const readline = require("readline");
const { readCalendar } = require("./read_ics.cjs");

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let answer;
  try {
    answer = { events: readCalendar(JSON.parse(line)).events };
  } catch (err) {
    answer = { error: String(err && err.stack || err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
