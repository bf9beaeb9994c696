// One node process for many calendars: read one JSON string (an iCalendar
// body) per line on stdin, answer one JSON line per input on stdout with
// what Mozilla's ical.js reads from each event (or {"error": ...}).
// Used by the hypothesis properties, which parse thousands of calendars.
// Usage: node tests/js/parse_ics_lines.cjs
"use strict";
const readline = require("readline");
const ICAL = require("ical.js");

function parse(body) {
  const calendar = new ICAL.Component(ICAL.parse(body));
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
  }
  return calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    return {
      uid: event.uid,
      summary: event.summary,
      description: event.description,
      location: event.location,
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
    };
  });
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let answer;
  try {
    answer = { events: parse(JSON.parse(line)) };
  } catch (err) {
    answer = { error: String(err && err.stack || err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
