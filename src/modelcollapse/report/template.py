"""The jinja2 template of a report page (see :mod:`modelcollapse.report.page`).

Kept in a Python module rather than a data file so that it ships with the package without any
package-data setting. Everything is inline: styles, plotly.js and the figure data.
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="modelcollapse {{ version }}">
<link rel="icon" href="data:,">
<title>{{ page.title }}</title>
<style>
  :root { --fg: #1d232a; --muted: #5b6470; --line: #d9dee4; --bg: #f6f7f9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
         color: var(--fg); background: var(--bg); }
  header { background: #fff; border-bottom: 1px solid var(--line); padding: 18px 28px; }
  header h1 { margin: 0 0 4px; font-size: 22px; }
  header p { margin: 0; color: var(--muted); }
  main { padding: 8px 28px 40px; max-width: 1500px; margin: 0 auto; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
            padding: 14px 18px; margin: 18px 0; }
  section h2 { margin: 0 0 10px; font-size: 18px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 14px; }
  figure { margin: 0; min-width: 0; }
  figcaption { color: var(--muted); font-size: 13px; margin-top: 2px; }
  .mc-plot { width: 100%; min-height: 300px; }
  .note { background: #fff8e1; border-left: 4px solid #f2b600; padding: 6px 10px; margin: 8px 0; }
  table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
  th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left;
           vertical-align: top; }
  th { background: var(--bg); }
  table.docs { table-layout: fixed; width: 100%; }
  table.docs td { font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; }
  pre { background: var(--bg); padding: 10px; overflow: auto; font-size: 13px; max-height: 420px; }
  details summary { cursor: pointer; color: var(--muted); margin: 6px 0; }
  .verdict { display: inline-block; padding: 4px 14px; border-radius: 14px; color: #fff;
             font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .verdict-healthy { background: #2ca02c; } .verdict-early { background: #d08a00; }
  .verdict-late { background: #d62728; }
  .flag { color: #d62728; font-weight: 600; }
  footer { color: var(--muted); font-size: 12px; text-align: center; padding: 10px; }
</style>
<script>{{ plotly_js | safe }}</script>
</head>
<body>
<header>
  <h1>{{ page.title }}</h1>
  {% if page.subtitle %}<p>{{ page.subtitle }}</p>{% endif %}
</header>
<main>
{% if page.verdict %}
<section id="verdict">
  <h2>Verdict: <span class="verdict verdict-{{ page.verdict }}">{{ page.verdict }}</span></h2>
  {% if page.reasons %}<ul>{% for r in page.reasons %}<li>{{ r }}</li>{% endfor %}</ul>{% endif %}
</section>
{% endif %}
{% if page.notes %}
<section id="notes">
  <h2>Notes</h2>
  {% for n in page.notes %}<div class="note">{{ n }}</div>{% endfor %}
</section>
{% endif %}
{% for section in page.sections %}
<section>
  <h2>{{ section.title }}</h2>
  {% set figs = section.blocks | selectattr("kind", "equalto", "figure") | list %}
  {% for b in section.blocks if b.kind != "figure" and b.kind in ("note", "text") %}
    {% if b.kind == "note" %}<div class="note">{{ b.text }}</div>{% else %}<p>{{ b.text }}</p>{% endif %}
  {% endfor %}
  {% if figs %}
  <div class="grid">
    {% for b in figs %}
    <figure><div class="mc-plot" id="{{ b.id }}"></div>
      {% if b.caption %}<figcaption>{{ b.caption }}</figcaption>{% endif %}</figure>
    {% endfor %}
  </div>
  {% endif %}
  {% for b in section.blocks if b.kind in ("table", "documents", "pre") %}
    {% if b.kind == "pre" %}
      <details{% if b.open %} open{% endif %}><summary>{{ b.caption }}</summary><pre>{{ b.text }}</pre></details>
    {% else %}
      {% if b.caption %}<p>{{ b.caption }}</p>{% endif %}
      <table class="{{ 'docs' if b.kind == 'documents' else 'data' }}">
        <thead><tr>{% for c in b.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
        <tbody>{% for row in b.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</tbody>
      </table>
    {% endif %}
  {% endfor %}
</section>
{% endfor %}
</main>
<footer>modelcollapse {{ version }} · generated {{ generated }} · works offline (plotly.js is inlined)</footer>
<script type="application/json" id="mc-figures">{{ figures_json | safe }}</script>
<script>
(function () {
  var specs = JSON.parse(document.getElementById("mc-figures").textContent);
  var config = { responsive: true, displaylogo: false };
  var failed = [];
  var drawn = specs.map(function (s) {
    try {
      return Plotly.newPlot(s.id, s.figure.data, s.figure.layout, config).catch(function (e) {
        failed.push(s.id); console.error("plot " + s.id + " failed: " + e);
      });
    } catch (e) {
      failed.push(s.id); console.error("plot " + s.id + " failed: " + e);
      return Promise.resolve();
    }
  });
  Promise.all(drawn).then(function () {
    if (failed.length) { document.body.setAttribute("data-plots-failed", failed.join(" ")); }
    document.body.setAttribute("data-plots-ready", String(specs.length - failed.length));
  });
})();
</script>
</body>
</html>
"""
