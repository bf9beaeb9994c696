// What Mozilla's ical.js (the parser of Thunderbird) makes of one iCalendar
// body: the calendar's own properties and every event, with its start and
// end as UTC instants. Shared by parse_ics.cjs and parse_ics_lines.cjs.
"use strict";
const ICAL = require("ical.js");

function text(component, name) {
  const value = component.getFirstPropertyValue(name);
  return value === null || value === undefined ? null : String(value);
}

function readCalendar(body) {
  const calendar = new ICAL.Component(ICAL.parse(body));
  // Resolve TZID through the feed's own VTIMEZONE, as Thunderbird does;
  // without it ical.js would read the times as floating.
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
  }
  const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
    const event = new ICAL.Event(vevent);
    const conference = vevent.getFirstProperty("conference");
    return {
      uid: event.uid,
      summary: event.summary,
      description: event.description,
      location: event.location,
      start: event.startDate.toJSDate().toISOString(),
      end: event.endDate.toJSDate().toISOString(),
      start_zone: event.startDate.zone ? event.startDate.zone.tzid : null,
      status: text(vevent, "status"),
      sequence: event.sequence,
      url: text(vevent, "url"),
      conference: conference ? String(conference.getFirstValue()) : null,
      organizer: text(vevent, "organizer"),
      dtstamp: vevent.getFirstPropertyValue("dtstamp").toJSDate().toISOString(),
    };
  });
  return {
    name: text(calendar, "name"),
    x_wr_calname: text(calendar, "x-wr-calname"),
    method: text(calendar, "method"),
    refresh_interval: text(calendar, "refresh-interval"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((tz) => text(tz, "tzid")),
    events,
  };
}

module.exports = { readCalendar };
