import Mustache

/// The dashboard's pages: mustache templates (`{{x}}` is HTML-escaped; `{{{x}}}` only ever
/// carries HTML this program built, such as a rendered fragment or an SVG of numbers).
enum WebTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let all: [(String, String)] = [
        ("layout", layout), ("login", login), ("fleet", fleet), ("fleet-table", fleetTable), ("host", host),
        ("tickets", tickets), ("ticket", ticket), ("ticket-live", ticketLive), ("approvals", approvals),
        ("audit", audit), ("silences", silences),
    ]

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · FieldMedic</title><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js" defer></script>
        {{#refresh}}<noscript><meta http-equiv="refresh" content="30"></noscript>{{/refresh}}
        </head><body>
        {{#user}}<header><nav><a class="brand" href="/">FieldMedic</a><a href="/">Fleet</a><a href="/tickets">Tickets</a><a href="/approvals">Approvals</a><a href="/silences">Silences</a><a href="/audit">Audit</a></nav>
        <form class="who" method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><span>{{user}} · {{role}}</span> <button class="link">Sign out</button></form></header>{{/user}}
        {{#fleetPaused}}<p class="banner danger" id="fleet-paused">Fixes are paused fleet-wide {{fleetPaused}}</p>{{/fleetPaused}}
        {{#breaker}}<p class="banner danger">Circuit breaker open: {{breaker}}</p>{{/breaker}}
        {{#notice}}<p class="banner ok" role="status">{{notice}}</p>{{/notice}}
        <main>{{{body}}}</main>
        <footer>FieldMedic {{version}}</footer>
        </body></html>
        """

    static let login = """
        <h1>Sign in</h1>
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        <form method="post" action="/login" class="card narrow">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{next}}">
        <label>Name <input name="name" autocomplete="username" required autofocus></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button>Sign in</button>
        </form>
        """

    static let fleet = """
        <h1>Fleet</h1>
        <p class="stamp" data-live="{{live}}" data-target="fleet-table" data-period="{{refreshMs}}">Data as of <time>{{asOf}}</time><span class="stale" hidden> · stale: the coordinator did not answer</span></p>
        <form method="get" action="/" class="filters"><label>Host name contains <input name="q" value="{{filter}}" maxlength="64"></label> <button>Find</button>{{#filter}} <a href="/">all hosts</a>{{/filter}}</form>
        <div id="fleet-table">{{{table}}}</div>
        <section class="card">
        <h2>Kill switch</h2>
        {{#fleetPaused}}<p>Fixes are paused fleet-wide {{fleetPaused}}.</p>
        {{#canAct}}<form method="post" action="/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button>Resume fixes fleet-wide</button></form>{{/canAct}}{{/fleetPaused}}
        {{^fleetPaused}}<p>Stops every automatic and approved fix on every host until resumed (diagnosis goes on).</p>
        {{#canAct}}<form method="post" action="/pause" class="stack"><input type="hidden" name="csrf" value="{{csrf}}">
        <label>Reason <input name="reason" required maxlength="500"></label>
        <label class="check"><input type="checkbox" name="confirm" value="yes" required> I mean it: pause all fixes</label>
        <button class="danger">Pause the fleet</button></form>{{/canAct}}{{/fleetPaused}}
        {{^canAct}}<p class="muted">Your role may not pause or resume.</p>{{/canAct}}
        </section>
        """

    static let fleetTable = """
        <p class="summary">{{summary}}{{#filtered}} · {{filtered}}{{/filtered}}</p>
        {{#range}}<p class="pager">{{range}}{{#previous}} · <a href="{{previous}}" rel="prev">← previous</a>{{/previous}}{{#next}} · <a href="{{next}}" rel="next">next →</a>{{/next}}</p>{{/range}}
        <table class="rows"><thead><tr><th>Host</th><th>State</th><th>Last report</th><th>Open findings</th><th>Open tickets</th><th>Silences</th><th>Agent</th><th>Certificate until</th></tr></thead><tbody>
        {{#hosts}}<tr class="{{stateClass}}"><td data-label="Host"><a href="/hosts/{{name}}">{{name}}</a>{{#paused}} <span class="tag">paused</span>{{/paused}}</td>
        <td data-label="State"><span class="pill {{stateClass}}">{{stateText}}</span></td><td data-label="Last report">{{lastReport}}</td>
        <td data-label="Open findings">{{#critical}}<span class="sev critical">{{critical}} critical</span> {{/critical}}{{#warning}}<span class="sev warning">{{warning}} warning</span> {{/warning}}{{#info}}<span class="sev info">{{info}} info</span>{{/info}}{{^anyFinding}}none{{/anyFinding}}</td>
        <td data-label="Open tickets">{{#tickets}}<a class="ticket-link" href="/tickets/{{id}}">#{{id}} {{state}}</a> {{/tickets}}{{^tickets}}none{{/tickets}}</td>
        <td data-label="Silences">{{silences}}</td><td data-label="Agent">{{version}}</td><td data-label="Certificate until">{{certificate}}</td></tr>
        {{/hosts}}{{^hosts}}<tr><td colspan="8">{{#filtered}}No host matches.{{/filtered}}{{^filtered}}No agents yet: run <code>fieldmedic-coordinator agents add NAME</code>.{{/filtered}}</td></tr>{{/hosts}}
        </tbody></table>
        """

    static let host = """
        <h1>{{name}} <span class="pill {{stateClass}}">{{stateText}}</span></h1>
        <p class="muted">Last report {{lastReport}} · agent {{version}} · certificate until {{certificate}}</p>
        {{#pausedBy}}<p class="banner danger">Fixes on this host are paused {{pausedBy}}</p>{{/pausedBy}}
        {{#canAct}}<form method="post" action="{{#pausedBy}}/resume{{/pausedBy}}{{^pausedBy}}/pause{{/pausedBy}}" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="host" value="{{name}}"><input type="hidden" name="confirm" value="yes">
        {{^pausedBy}}<input name="reason" placeholder="reason" required maxlength="500"> <button>Pause fixes on {{name}}</button>{{/pausedBy}}{{#pausedBy}}<button>Resume fixes on {{name}}</button>{{/pausedBy}}</form>{{/canAct}}
        <h2>Findings</h2>
        <ul class="plain">{{#findings}}<li><span class="sev {{severity}}">{{severity}}</span> <code>{{code}}</code> {{subject}}: {{message}}</li>{{/findings}}{{^findings}}<li>None in the last report.</li>{{/findings}}</ul>
        <h2>Containers</h2>
        <table class="rows"><thead><tr><th>Service</th><th>Container</th><th>State</th><th>Health</th><th>Restarts</th><th>Image</th></tr></thead><tbody>
        {{#containers}}<tr class="{{rowClass}}"><td data-label="Service">{{service}}</td><td data-label="Container">{{container}}</td><td data-label="State">{{state}}</td><td data-label="Health">{{health}}</td><td data-label="Restarts">{{restarts}}</td><td data-label="Image">{{image}}</td></tr>{{/containers}}
        {{^containers}}<tr><td colspan="6">No containers in the last report.</td></tr>{{/containers}}</tbody></table>
        <h2>Disks and queue</h2>
        <table class="rows"><thead><tr><th>What</th><th>Now</th><th>24 h</th><th>7 d</th><th>Trend</th><th>Full in</th><th>Confidence</th></tr></thead><tbody>
        {{#series}}<tr><td data-label="What">{{label}}</td><td data-label="Now">{{now}}</td><td data-label="24 h">{{{day}}}</td><td data-label="7 d">{{{week}}}</td><td data-label="Trend">{{trend}}</td><td data-label="Full in">{{fullIn}}</td><td data-label="Confidence">{{confidence}}</td></tr>{{/series}}
        {{^series}}<tr><td colspan="7">No samples stored yet.</td></tr>{{/series}}</tbody></table>
        <h2>Recent tickets</h2>
        <ul class="plain">{{#tickets}}<li><a href="/tickets/{{id}}">#{{id}}</a> <span class="pill">{{state}}</span> {{priority}} {{title}} <span class="muted">{{updated}}</span></li>{{/tickets}}{{^tickets}}<li>None.</li>{{/tickets}}</ul>
        <h2>Silences</h2>
        <ul class="plain">{{#silences}}<li>{{finding}} until {{until}} by {{createdBy}}: {{reason}}</li>{{/silences}}{{^silences}}<li>None active. <a href="/silences">Create one</a>.</li>{{/silences}}</ul>
        """

    static let tickets = """
        <h1>Tickets</h1>
        <form method="get" action="/tickets" class="filters">
        <label>Host <input name="host" value="{{host}}" list="hosts"></label><datalist id="hosts">{{#hostNames}}<option value="{{.}}">{{/hostNames}}</datalist>
        <label>State <select name="state"><option value="">any</option>{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/states}}</select></label>
        <label>Priority <select name="priority"><option value="">any</option>{{#priorities}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/priorities}}</select></label>
        <label class="check"><input type="checkbox" name="all" value="1"{{#all}} checked{{/all}}> closed too</label>
        <button>Filter</button></form>
        <table class="rows"><thead><tr><th>Ticket</th><th>Host</th><th>State</th><th>Priority</th><th>Title</th><th>Updated</th></tr></thead><tbody>
        {{#rows}}<tr><td data-label="Ticket"><a href="/tickets/{{id}}">#{{id}}</a>{{#issue}} <span class="muted">issue #{{issue}}</span>{{/issue}}</td><td data-label="Host">{{host}}</td><td data-label="State"><span class="pill">{{state}}</span></td><td data-label="Priority">{{priority}}</td><td data-label="Title">{{title}}</td><td data-label="Updated">{{updated}}</td></tr>{{/rows}}
        {{^rows}}<tr><td colspan="6">No tickets match.</td></tr>{{/rows}}</tbody></table>
        {{#range}}<p class="pager">{{range}}{{#previous}} · <a href="{{previous}}" rel="prev">← newer</a>{{/previous}}{{#next}} · <a href="{{next}}" rel="next">older →</a>{{/next}}</p>{{/range}}
        {{#scanLimited}}<p class="muted">{{scanLimited}}</p>{{/scanLimited}}
        """

    static let ticket = """
        <h1>#{{id}} {{title}}</h1>
        <div id="ticket-live" data-live="/tickets/{{id}}/live" data-target="ticket-live" data-period="{{refreshMs}}">{{{live}}}</div>
        <p class="stamp">Data as of <time>{{asOf}}</time><span class="stale" hidden> · stale: the coordinator did not answer</span></p>
        <h2>Plan</h2>
        {{#plan}}<p>Plan <code>{{shortHash}}</code></p><ol>{{#steps}}<li><code>{{summary}}</code> for {{finding}} ({{policy}})</li>{{/steps}}</ol>{{/plan}}{{^plan}}<p>No plan.</p>{{/plan}}
        <h2>Actions</h2>
        <table class="rows"><thead><tr><th>Step</th><th>Action</th><th>Status</th><th>Verified</th><th>Message</th></tr></thead><tbody>
        {{#actions}}<tr><td data-label="Step">{{step}}</td><td data-label="Action">{{summary}}{{#dryRun}} (dry run){{/dryRun}}</td><td data-label="Status">{{status}}</td><td data-label="Verified">{{verified}}</td><td data-label="Message">{{message}}</td></tr>{{/actions}}
        {{^actions}}<tr><td colspan="5">None yet.</td></tr>{{/actions}}</tbody></table>
        <h2>Report as posted</h2>
        <pre class="report">{{report}}</pre>
        """

    static let ticketLive = """
        <p><span class="pill state-{{state}}" id="ticket-state">{{state}}</span> {{priority}} · host {{host}} · source {{source}}{{#issue}} · issue #{{issue}}{{/issue}}</p>
        {{#verdict}}<p>{{verdict}}</p>{{/verdict}}
        {{#awaiting}}<p><a href="/approvals">This ticket waits for an approval.</a></p>{{/awaiting}}
        <h2>Timeline</h2>
        <ol class="timeline">{{#timeline}}<li><time>{{at}}</time> {{text}}</li>{{/timeline}}</ol>
        """

    static let approvals = """
        <h1>Approvals</h1>
        {{#items}}<section class="card approval" id="approval-{{id}}">
        <h2><a href="/tickets/{{id}}">#{{id}}</a> {{title}}</h2>
        <p>Host {{host}} · {{priority}} · plan <code>{{shortHash}}</code> · waiting since {{requested}}</p>
        <ol>{{#steps}}<li><code>{{summary}}</code> for {{finding}}</li>{{/steps}}</ol>
        {{#dryRuns}}<details><summary>Dry run of {{action}}: {{status}}</summary><pre>{{output}}</pre></details>{{/dryRuns}}
        {{#canAct}}<div class="actions">
        <form method="post" action="/tickets/{{id}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="plan" value="{{hash}}"><button class="approve">Approve plan {{shortHash}}</button></form>
        <form method="post" action="/tickets/{{id}}/deny"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="plan" value="{{hash}}"><button class="danger">Deny</button></form>
        </div>{{/canAct}}{{^canAct}}<p class="muted">Your role may not approve.</p>{{/canAct}}
        </section>{{/items}}
        {{^items}}<p>Nothing waits for an approval.</p>{{/items}}
        {{#more}}<p class="muted">Showing the {{limit}} most recently updated; approve or deny these to see the rest.</p>{{/more}}
        """

    static let audit = """
        <h1>Audit</h1>
        <p class="{{chainClass}}">Chain: {{chain}} <span class="muted">(verified {{checked}})</span></p>
        <p>Head: <code>{{head}}</code> · {{rows}} rows · <a href="/audit/export">export (JSON lines)</a></p>
        <form method="get" action="/audit" class="filters"><label>Filter <input name="q" value="{{q}}" placeholder="actor, action or subject"></label> <button>Filter</button></form>
        <table class="rows"><thead><tr><th>#</th><th>At</th><th>Actor</th><th>Action</th><th>Subject</th><th>Details</th></tr></thead><tbody>
        {{#entries}}<tr><td data-label="#">{{id}}</td><td data-label="At">{{at}}</td><td data-label="Actor">{{actor}}</td><td data-label="Action">{{action}}</td><td data-label="Subject">{{subject}}</td><td data-label="Details"><code>{{details}}</code></td></tr>{{/entries}}
        {{^entries}}<tr><td colspan="6">No entries.</td></tr>{{/entries}}</tbody></table>
        """

    static let silences = """
        <h1>Silences</h1>
        <table class="rows"><thead><tr><th>Host</th><th>Finding</th><th>Until</th><th>By</th><th>Reason</th><th></th></tr></thead><tbody>
        {{#items}}<tr><td data-label="Host">{{host}}</td><td data-label="Finding">{{finding}}</td><td data-label="Until">{{until}}</td><td data-label="By">{{createdBy}}</td><td data-label="Reason">{{reason}}</td>
        <td>{{#canAct}}<form method="post" action="/silences/{{id}}/expire"><input type="hidden" name="csrf" value="{{csrf}}"><button>Expire</button></form>{{/canAct}}</td></tr>{{/items}}
        {{^items}}<tr><td colspan="6">No active silences.</td></tr>{{/items}}</tbody></table>
        {{#canAct}}<section class="card"><h2>New silence</h2>
        <form method="post" action="/silences" class="stack"><input type="hidden" name="csrf" value="{{csrf}}">
        <label>Host <select name="host" required>{{#hostNames}}<option>{{.}}</option>{{/hostNames}}</select></label>
        <label>Finding code (empty: all) <input name="finding" placeholder="disk.high" maxlength="100"></label>
        <label>For <input name="duration" value="2h" required pattern="[0-9]+[smhd]" title="e.g. 90m, 2h, 7d"></label>
        <label>Reason <input name="reason" required maxlength="500"></label>
        <button>Silence</button></form></section>{{/canAct}}
        """

    static let css = """
        :root{--fg:#1b1f24;--muted:#5b6570;--bg:#fff;--line:#d8dde3;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0b5cad}
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;padding:.5rem 1rem;border-bottom:1px solid var(--line);background:#f6f8fa}
        nav a{margin-right:.9rem;color:var(--accent);text-decoration:none}nav a.brand{font-weight:700;color:var(--fg)}
        main{padding:1rem;max-width:1200px;margin:0 auto}footer{padding:1rem;color:var(--muted);font-size:.85rem;text-align:center}
        h1{font-size:1.4rem;margin:.3rem 0 .8rem}h2{font-size:1.1rem;margin:1.2rem 0 .5rem}
        table.rows{width:100%;border-collapse:collapse}table.rows th,table.rows td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        table.rows th{font-size:.85rem;color:var(--muted)}
        .pill{display:inline-block;padding:0 .5rem;border-radius:1rem;background:#eaeef2;font-size:.85rem}
        .pill.online{background:#dafbe1;color:var(--ok)}.pill.offline{background:#ffebe9;color:var(--bad)}.pill.pending,.pill.revoked{color:var(--muted)}
        .pill.state-resolved,.pill.state-healthy{background:#dafbe1;color:var(--ok)}.pill.state-awaiting_approval{background:#fff8c5;color:var(--warn)}.pill.state-escalated{background:#ffebe9;color:var(--bad)}
        .sev.critical{color:var(--bad);font-weight:600}.sev.warning{color:var(--warn)}.sev.info{color:var(--muted)}
        .tag{font-size:.75rem;border:1px solid var(--bad);color:var(--bad);border-radius:.3rem;padding:0 .3rem}
        .banner{margin:0;padding:.5rem 1rem}.banner.danger{background:#ffebe9;color:var(--bad)}.banner.ok{background:#dafbe1;color:var(--ok)}
        .error{color:var(--bad)}.muted,.stamp{color:var(--muted)}.stamp.is-stale,.stale{color:var(--bad)}.chain-ok{color:var(--ok)}.chain-broken{color:var(--bad);font-weight:700}
        .card{border:1px solid var(--line);border-radius:.5rem;padding:.8rem 1rem;margin:1rem 0}.narrow{max-width:22rem}
        form.stack label,form.card label{display:block;margin:.4rem 0}input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:.3rem}
        form.stack input:not([type=checkbox]),form.card input{width:100%;max-width:28rem}button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer;min-height:2.2rem}
        button.danger{background:var(--bad);border-color:var(--bad)}button.approve{background:var(--ok);border-color:var(--ok)}button.link{background:none;color:var(--accent);border:0;padding:0;min-height:0}
        form.inline,form.who,.actions form{display:inline}.actions{display:flex;gap:.5rem;flex-wrap:wrap}.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin-bottom:.8rem}
        pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.6rem;border-radius:.3rem;font-size:.85rem}ul.plain{padding-left:1rem}
        svg.spark{width:120px;height:24px;vertical-align:middle}svg.spark polyline{fill:none;stroke:var(--accent);stroke-width:1.5}
        ol.timeline{padding-left:1.2rem}ol.timeline time{color:var(--muted);font-size:.85rem}
        @media (max-width:700px){table.rows thead{display:none}table.rows tr{display:block;border:1px solid var(--line);border-radius:.4rem;margin:.5rem 0;padding:.3rem}
        table.rows td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.2rem .4rem}table.rows td[data-label]::before{content:attr(data-label);color:var(--muted);font-size:.85rem}
        nav a{display:inline-block;margin:.2rem .6rem .2rem 0}main{padding:.6rem}}

        """

    /// Progressive enhancement only: pages work without it (a `<noscript>` refresh instead).
    /// Every element with `data-live` is refreshed from its URL every `data-period` ms
    /// (`[web] live_refresh`, 10 s by default); after three failed asks in a row the page says
    /// its data is stale, until one succeeds again.
    static let script = """
        "use strict";
        (function () {
          document.querySelectorAll("[data-live]").forEach(function (el) {
            var period = parseInt(el.getAttribute("data-period"), 10) || 10000;
            var target = document.getElementById(el.getAttribute("data-target")) || el;
            var stamp = document.querySelector(".stamp");
            var failures = 0;
            function mark(stale) {
              if (!stamp) return;
              stamp.classList.toggle("is-stale", stale);
              var s = stamp.querySelector(".stale"); if (s) s.hidden = !stale;
            }
            function tick() {
              fetch(el.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
                .then(function (r) { if (!r.ok || r.redirected) throw new Error(String(r.status)); return r.text(); })
                .then(function (html) {
                  target.innerHTML = html; failures = 0; mark(false);
                  var t = stamp && stamp.querySelector("time"); if (t) t.textContent = new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC";
                })
                .catch(function () { failures += 1; mark(failures >= 3); });
            }
            setInterval(tick, period);
          });
        })();

        """
}
