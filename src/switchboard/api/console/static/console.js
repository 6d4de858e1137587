// Switchboard web console: fills the server-rendered pages from /api and keeps the
// dashboard live through the /api/events WebSocket. Plain browser JavaScript, no build.
"use strict";

(() => {
  const HEADERS = { "X-Switchboard-Console": "1" };
  const body = document.body;
  const page = body.dataset.page;
  const $ = (selector) => document.querySelector(selector);

  /** Call the API with the session cookie and the console header; JSON in and out. */
  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options };
    init.headers = { ...HEADERS, ...(options.headers || {}) };
    if (init.body !== undefined && typeof init.body !== "string") {
      init.body = JSON.stringify(init.body);
      init.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(path, init);
    if (response.status === 401 && page !== "login") {
      location.assign("/login");
      throw new Error("the session ended; log in again");
    }
    const type = response.headers.get("content-type") || "";
    const answer = type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      throw new Error((answer && answer.error) || `HTTP ${response.status}`);
    }
    return answer;
  }

  function notice(text, ok = false) {
    const box = $("#notice");
    box.textContent = text;
    box.classList.toggle("ok", ok);
    box.hidden = !text;
  }

  /** A new element with attributes (``on*`` are listeners) and children. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** Replace a table's rows; each row is {attrs, cells}; a cell is text, a Node or
   * {text, class}. Cells get their column's name for the phone layout. */
  function fillTable(table, rows, emptyId) {
    const labels = [...table.tHead.rows[0].cells].map((th) => th.textContent.trim());
    table.tBodies[0].replaceChildren(
      ...rows.map((row) =>
        el(
          "tr",
          row.attrs || {},
          ...row.cells.map((cell, index) => {
            const plain = cell instanceof Node || typeof cell !== "object" || cell === null;
            return el(
              "td",
              { "data-label": labels[index] || "", class: plain ? undefined : cell.class },
              plain ? cell : cell.text,
            );
          }),
        ),
      ),
    );
    if (emptyId) {
      $(`#${emptyId}`).hidden = rows.length > 0;
      table.closest(".scroll").hidden = rows.length === 0;
    }
  }

  const stateCell = (text) => ({
    text,
    class: `state-${String(text).toLowerCase().replace(/[^a-z]/g, "")}`,
  });

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  }

  const when = (epoch) =>
    new Date(epoch * 1000).toLocaleString([], { dateStyle: "short", timeStyle: "short" });

  /** Run ``work`` once at a time; calls made meanwhile fold into one more run. */
  function serial(work) {
    let running = false;
    let again = false;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        await work();
      } catch (error) {
        notice(error.message);
      } finally {
        running = false;
        if (again) {
          again = false;
          run();
        }
      }
    };
    return run;
  }

  /** Follow /api/events (the admin session's cookie authenticates it); ``onEvent(null)``
   * after each (re)connection, so what happened while disconnected is fetched again. */
  function liveEvents(types, onEvent) {
    const dot = $("#live-state");
    const text = $("#live-text");
    let delay = 500;
    const connect = () => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(
        `${scheme}://${location.host}/api/events?types=${types.join(",")}`,
      );
      socket.addEventListener("open", () => {
        delay = 500;
        if (dot) dot.className = "dot on";
        if (text) text.textContent = "Live: updates as calls and phones change";
        onEvent(null);
      });
      socket.addEventListener("message", (message) => {
        let event = null;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        onEvent(event);
      });
      socket.addEventListener("close", () => {
        if (dot) dot.className = "dot off";
        if (text) text.textContent = "Live updates interrupted; reconnecting…";
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      });
    };
    connect();
  }

  const CALL_EVENTS = [
    "CallStarted",
    "CallRinging",
    "CallAnswered",
    "CallHeld",
    "CallTransferred",
    "CallEnded",
  ];
  const CONTACT_EVENTS = [
    "ContactAdded",
    "ContactRemoved",
    "ContactExpired",
    "ContactStatusChanged",
  ];

  function quality(q) {
    if (!q) return "–";
    return `${q.mos.toFixed(1)} · ${(q.loss * 100).toFixed(1)} % · ${q.jitter_ms.toFixed(1)} ms`;
  }

  /** A call's live audio (a channel's quality, or a CallQuality event): each side's MOS,
   * its loss and jitter in the title; "–" for a side that sent nothing yet. */
  function liveQuality(q) {
    if (!q) return { text: "–", class: "quality" };
    const side = (mos, loss, jitter) =>
      mos < 0 ? "–" : `${mos.toFixed(1)} (${(loss * 100).toFixed(1)} %, ${jitter.toFixed(0)} ms)`;
    const caller = side(q.caller_mos, q.caller_loss, q.caller_jitter_ms);
    const callee = side(q.callee_mos, q.callee_loss, q.callee_jitter_ms);
    const worst = Math.min(...[q.caller_mos, q.callee_mos].filter((mos) => mos >= 0));
    const grade = worst >= 4 ? "good" : worst >= 3.6 ? "fair" : "poor";
    return { text: `${caller} / ${callee}`, class: `quality quality-${grade}` };
  }

  // --- pages -------------------------------------------------------------------------

  function login() {
    const submit = (form, fields) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector("button");
        button.disabled = true;
        try {
          const answer = await api("/console/login", { method: "POST", body: fields() });
          location.assign(answer.next);
        } catch (error) {
          notice(error.message);
        } finally {
          button.disabled = false;
        }
      });
    };
    submit($("#token-login"), () => ({ token: $("#token").value }));
    submit($("#pin-login"), () => ({ mailbox: $("#mailbox").value, pin: $("#pin").value }));
  }

  function dashboard() {
    let fetchedAt = performance.now();
    const hangup = async (name, caller) => {
      if (!confirm(`Hang up the call from ${caller}?`)) return;
      try {
        await api(`/api/channels/${encodeURIComponent(name)}`, { method: "DELETE" });
      } catch (error) {
        notice(error.message);
      }
    };
    const refreshCalls = serial(async () => {
      const [contacts, channels] = await Promise.all([api("/api/contacts"), api("/api/channels")]);
      fetchedAt = performance.now();
      const calls = new Map();
      for (const channel of channels) {
        if (!calls.has(channel.linkedid)) calls.set(channel.linkedid, []);
        calls.get(channel.linkedid).push(channel);
      }
      const rows = [...calls.entries()].map(([linkedid, legs]) => {
        const first = legs.find((leg) => leg.uniqueid === linkedid) || legs[0];
        const up = legs.length > 1 && legs.every((leg) => leg.state === "Up");
        const seconds = Math.max(...legs.map((leg) => leg.duration));
        const caller = first.caller_name
          ? `${first.caller_name} <${first.caller_number}>`
          : first.caller_number || first.endpoint;
        return {
          attrs: { "data-call": linkedid },
          cells: [
            caller,
            first.exten || first.peer || "",
            stateCell(up ? "Up" : first.state),
            el("span", { class: "duration", "data-base": seconds }, duration(seconds)),
            liveQuality((legs.find((leg) => leg.quality) || {}).quality),
            legs.map((leg) => leg.name).join(", "),
            el(
              "button",
              {
                type: "button",
                class: "danger",
                "aria-label": `Hang up the call from ${caller}`,
                onclick: () => hangup(first.name, caller),
              },
              "Hang up",
            ),
          ],
        };
      });
      fillTable($("#calls"), rows, "calls-empty");
      fillTable(
        $("#phones"),
        contacts.map((contact) => ({
          attrs: { "data-endpoint": contact.endpoint },
          cells: [
            contact.endpoint,
            `${contact.source_host}:${contact.source_port}`,
            stateCell(contact.status),
            contact.transport.toUpperCase(),
            contact.user_agent || "–",
            duration(contact.expires_in),
          ],
        })),
        "phones-empty",
      );
      $("#count-phones").textContent = contacts.length;
      $("#count-calls").textContent = calls.size;
      $("#count-channels").textContent = channels.length;
    });
    const refreshRecent = serial(async () => {
      const page = await api("/api/cdrs?limit=10");
      fillTable(
        $("#recent"),
        page.records.map((record) => ({
          cells: [
            when(record.start),
            record.src,
            record.dst,
            stateCell(record.disposition),
            duration(record.billsec),
            quality(record.caller_quality),
            quality(record.callee_quality),
          ],
        })),
        "recent-empty",
      );
    });
    setInterval(() => {
      const elapsed = (performance.now() - fetchedAt) / 1000;
      for (const cell of document.querySelectorAll("#calls .duration")) {
        cell.textContent = duration(Number(cell.dataset.base) + elapsed);
      }
    }, 1000);
    const showQuality = (event) => {
      const row = document.querySelector(`#calls tr[data-call="${CSS.escape(event.uniqueid)}"]`);
      const cell = row && row.querySelector("td.quality");
      if (!cell) return;
      const shown = liveQuality(event);
      cell.textContent = shown.text;
      cell.className = shown.class;
    };
    liveEvents([...CALL_EVENTS, ...CONTACT_EVENTS, "CallQuality"], (event) => {
      if (event && event.type === "CallQuality") return showQuality(event);
      refreshCalls();
      if (event === null) refreshRecent();
      // CDRs are written in batches a moment after the call ends.
      else if (event.type === "CallEnded") setTimeout(refreshRecent, 1500);
    });
  }

  function endpoints() {
    const refresh = serial(async () => {
      const list = await api("/api/endpoints");
      fillTable(
        $("#endpoints"),
        list.map((endpoint) => ({
          attrs: { "data-endpoint": endpoint.name },
          cells: [
            endpoint.name,
            stateCell(endpoint.state),
            endpoint.context,
            endpoint.codecs.join(", "),
            endpoint.aors.join(", "),
            endpoint.contacts,
            endpoint.channels,
          ],
        })),
      );
    });
    liveEvents([...CALL_EVENTS, ...CONTACT_EVENTS], () => refresh());
  }

  const HOUR = 3600;
  const MAX_HOURS = 168;
  const CHART_PAGES = 10;
  const PAGE = 25;

  function cdrs() {
    const form = $("#cdr-search");
    let offset = 0;
    const epoch = (value) => (value ? new Date(value).getTime() / 1000 : null);
    const filters = () => {
      const params = new URLSearchParams();
      for (const name of ["src", "dst", "disposition"]) {
        const value = form.elements[name].value.trim();
        if (value) params.set(name, value);
      }
      for (const name of ["since", "until"]) {
        const value = epoch(form.elements[name].value);
        if (value !== null) params.set(name, String(value));
      }
      return params;
    };

    async function chart(params) {
      const end = Number(params.get("until")) || Date.now() / 1000;
      let start = Number(params.get("since")) || end - 24 * HOUR;
      start = Math.max(start, end - MAX_HOURS * HOUR);
      const first = Math.floor(start / HOUR) * HOUR;
      const hours = Math.max(1, Math.ceil((end - first) / HOUR));
      const counts = new Array(hours).fill(0);
      const query = new URLSearchParams(params);
      query.set("since", String(start));
      query.set("until", String(end));
      query.set("limit", "1000");
      let total = 0;
      for (let index = 0; index < CHART_PAGES; index += 1) {
        query.set("offset", String(index * 1000));
        const page = await api(`/api/cdrs?${query}`);
        total = page.total;
        for (const record of page.records) {
          const slot = Math.floor((record.start - first) / HOUR);
          if (slot >= 0 && slot < hours) counts[slot] += 1;
        }
        if ((index + 1) * 1000 >= page.total) break;
      }
      drawChart(counts, first, total);
    }

    function drawChart(counts, first, total) {
      const ns = "http://www.w3.org/2000/svg";
      const svg = (tag, attrs, text) => {
        const node = document.createElementNS(ns, tag);
        for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
        if (text !== undefined) node.textContent = text;
        return node;
      };
      const width = Math.max(280, Math.round($("#chart").clientWidth - 16));
      const height = 200;
      const left = 28;
      const bottom = 22;
      const peak = Math.max(1, ...counts);
      const step = (width - left) / counts.length;
      const hourLabel = (index) =>
        new Date((first + index * HOUR) * 1000).toLocaleTimeString([], {
          hour: "2-digit",
          minute: "2-digit",
        });
      const busiest = counts.indexOf(Math.max(...counts));
      const sum = counts.reduce((a, b) => a + b, 0);
      const summary =
        `${sum} ${sum === 1 ? "call" : "calls"} in ${counts.length} hours` +
        (Math.max(...counts) ? `; busiest hour ${hourLabel(busiest)} with ${counts[busiest]}` : "");
      const chartNode = svg("svg", {
        viewBox: `0 0 ${width} ${height}`,
        role: "img",
        "aria-label": `Calls per hour: ${summary}`,
      });
      chartNode.append(
        svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }),
        svg("text", { x: 0, y: 12 }, String(peak)),
        svg("text", { x: 0, y: height - bottom }, "0"),
      );
      const labelEvery = Math.ceil(counts.length / Math.max(1, Math.floor(width / 90)));
      counts.forEach((count, index) => {
        const barHeight = ((height - bottom - 16) * count) / peak;
        const bar = svg("rect", {
          class: "bar-rect",
          x: left + index * step + step * 0.15,
          y: height - bottom - barHeight,
          width: Math.max(1, step * 0.7),
          height: barHeight,
          "data-count": count,
        });
        bar.append(svg("title", {}, `${hourLabel(index)}: ${count} calls`));
        chartNode.append(bar);
        const middle = left + (index + 0.5) * step;
        if (index % labelEvery === 0 && middle > left + 24 && middle < width - 24) {
          chartNode.append(
            svg("text", { x: middle, y: height - 6, "text-anchor": "middle" }, hourLabel(index)),
          );
        }
      });
      $("#chart").replaceChildren(chartNode);
      $("#chart-summary").textContent =
        summary + (total > CHART_PAGES * 1000 ? ` (first ${CHART_PAGES * 1000} records)` : "");
    }

    async function search() {
      const params = filters();
      $("#csv").href = `/api/cdrs.csv?${params}`;
      const query = new URLSearchParams(params);
      query.set("limit", String(PAGE));
      query.set("offset", String(offset));
      const page = await api(`/api/cdrs?${query}`);
      fillTable(
        $("#records"),
        page.records.map((record) => ({
          cells: [
            when(record.start),
            record.clid || record.src,
            record.dst,
            stateCell(record.disposition),
            duration(record.duration),
            duration(record.billsec),
            record.caller_quality ? record.caller_quality.mos.toFixed(1) : "–",
          ],
        })),
        "records-empty",
      );
      const last = Math.min(offset + PAGE, page.total);
      $("#records-count").textContent = page.total
        ? `(${offset + 1}–${last} of ${page.total})`
        : "";
      $("#prev").disabled = offset === 0;
      $("#next").disabled = last >= page.total;
      await chart(params);
    }
    const run = serial(search);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      offset = 0;
      run();
    });
    $("#prev").addEventListener("click", () => {
      offset = Math.max(0, offset - PAGE);
      run();
    });
    $("#next").addEventListener("click", () => {
      offset += PAGE;
      run();
    });
    run();
  }

  async function voicemail() {
    const picker = $("#mailbox-select");
    const folderSelect = $("#folder-select");
    let mailbox = body.dataset.mailbox;
    if (body.dataset.role === "admin") {
      const boxes = await api("/api/voicemail");
      picker.replaceChildren(
        ...boxes.map((box) =>
          el(
            "option",
            { value: box.mailbox },
            `${box.mailbox} ${box.fullname} (${box.new} new, ${box.old} old)`,
          ),
        ),
      );
      $("#mailbox-picker").hidden = false;
      mailbox = boxes.length ? boxes[0].mailbox : "";
      picker.addEventListener("change", () => {
        mailbox = picker.value;
        load();
      });
    }
    const base = () => `/api/voicemail/${encodeURIComponent(mailbox)}/messages`;
    const act = async (path, method, done) => {
      try {
        await api(path, { method });
        notice(done, true);
      } catch (error) {
        notice(error.message);
      }
      load();
    };
    const load = serial(async () => {
      const folder = folderSelect.value;
      if (!mailbox) {
        $("#messages").replaceChildren();
        $("#messages-empty").hidden = false;
        return;
      }
      const messages = await api(`${base()}?folder=${encodeURIComponent(folder)}`);
      $("#messages").replaceChildren(
        ...messages.map((message) => {
          const wav = `${base()}/${folder}/${encodeURIComponent(message.msg_id)}.wav`;
          const from = message.callerid || "Unknown caller";
          return el(
            "li",
            { class: "message", "data-msg-id": message.msg_id },
            el(
              "div",
              { class: "meta" },
              el("span", { class: "from" }, from),
              el(
                "span",
                { class: "muted" },
                `${when(message.origtime)} · ${duration(message.duration)}`,
              ),
            ),
            el("audio", {
              controls: true,
              preload: "metadata",
              src: wav,
              "aria-label": `Message from ${from}`,
            }),
            el(
              "div",
              { class: "actions" },
              el(
                "a",
                { class: "button secondary", href: wav, download: `${message.msg_id}.wav` },
                "Download",
              ),
              folder === "INBOX"
                ? el(
                    "button",
                    {
                      type: "button",
                      class: "secondary",
                      onclick: () => act(`${base()}/INBOX/${message.msg_id}/heard`, "POST", "Moved to Old."),
                    },
                    "Mark heard",
                  )
                : null,
              el(
                "button",
                {
                  type: "button",
                  class: "danger",
                  "aria-label": `Delete the message from ${from}`,
                  onclick: () => {
                    if (confirm(`Delete the message from ${from}?`)) {
                      act(`${base()}/${folder}/${message.msg_id}`, "DELETE", "Message deleted.");
                    }
                  },
                },
                "Delete",
              ),
            ),
          );
        }),
      );
      $("#messages-empty").hidden = messages.length > 0;
    });
    folderSelect.addEventListener("change", () => load());
    $("#refresh").addEventListener("click", () => load());
    if (body.dataset.role === "admin") {
      liveEvents(["VoicemailDeposited", "VoicemailChanged"], () => load());
    } else {
      load();
    }
  }

  const logout = $("#logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      await api("/console/logout", { method: "POST" });
      location.assign("/login");
    });
  }

  const pages = { login, dashboard, endpoints, cdrs, voicemail };
  if (pages[page]) {
    Promise.resolve(pages[page]()).catch((error) => notice(error.message));
  }
})();
