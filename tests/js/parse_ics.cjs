// Read iCalendar on stdin and print, as JSON, what Mozilla's ical.js makes
// of it (read_ics.cjs): the calendar's own properties and every event.
// Usage: node tests/js/parse_ics.cjs < feed.ics
"use strict";
const { readCalendar } = require("./read_ics.cjs");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(readCalendar(input)));
});
