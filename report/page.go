package report

// pageHTML is the whole page. It loads nothing: the Content-Security-Policy
// forbids every fetch, so a reference that slipped in would show up as a
// broken page in the render check rather than as a silent network call.
// Hover text comes from SVG <title> elements, so no script is needed.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>align report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;margin:0 auto;padding:16px 24px;max-width:1500px;background:#fff}
h1{font-size:22px;margin:4px 0}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;margin:0}
code,.path{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.path{color:#555;word-break:break-all}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f5f7;font-weight:600}
tbody tr:nth-child(even){background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td:first-child{white-space:nowrap}
.scroll{overflow-x:auto}
.sw{display:inline-block;width:18px;height:0;border-top:3px solid currentColor;vertical-align:middle;margin-right:6px}
.sw.dashed{border-top-style:dashed}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
figure.chart{margin:0;border:1px solid #e3e3e3;border-radius:4px;padding:6px 8px}
figure.chart svg{width:100%;height:auto;display:block}
svg .ct{font-size:14px;font-weight:600;fill:#222}
svg .tl{font-size:11px;fill:#555}
svg .al{font-size:12px;fill:#444}
svg .grid{stroke:#ececec;stroke-width:1}
svg .frame{fill:none;stroke:#999;stroke-width:1}
svg .series polyline{fill:none;stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
svg .series circle{stroke:none}
svg .scatter polyline{stroke-width:1;opacity:.35}
svg .scatter circle{fill-opacity:.85}
.legend{list-style:none;margin:4px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px}
.note,.notes{color:#8a5a00;font-size:12px;margin:4px 0 0}
.warn{background:#fff7e6;border:1px solid #f0d9a8;padding:4px 12px;border-radius:4px}
details{margin:6px 0}
summary{cursor:pointer;font-weight:600}
.sample{border-left:3px solid #ddd;padding-left:10px;margin:8px 0}
.lbl{margin:6px 0 2px;color:#666;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;margin:0;background:#f7f7f7;padding:4px 6px;font-size:12px}
</style>
</head>
<body>
<header>
<h1>align report</h1>
<p class="meta">{{len .Runs}} run(s) · generated {{.Created}} · <code>align report {{.Inputs}}</code></p>
</header>
{{if .Warnings}}<section class="warn"><h2>Warnings</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul></section>{{end}}
{{if .Runs}}<section>
<h2>Runs</h2>
<div class="scroll"><table>
<thead><tr><th>run</th><th>settings (config.yaml)</th><th>rows</th><th>last step</th><th>directory</th></tr></thead>
<tbody>{{range .Runs}}
<tr><td><span class="sw{{if .Dash}} dashed{{end}}" style="color:{{.Color}}"></span>{{.Name}}</td><td>{{.Desc}}</td><td class="n">{{.Rows}}</td><td class="n">{{.LastStep}}</td><td class="path" title="metrics: {{.Keys}}">{{.Dir}}</td></tr>{{end}}
</tbody></table></div>
</section>
<section>
<h2>Training curves</h2>
<div class="charts">{{range .Charts}}{{template "chart" .}}{{end}}</div>
{{if .Omitted}}<ul class="notes">{{range .Omitted}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>{{end}}
{{range .Tables}}<section id="{{.ID}}">
<h2>{{.Title}}</h2>
<div class="scroll"><table>
<thead><tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}
<tr>{{range .}}<td{{if .Num}} class="n"{{end}}>{{if .Color}}<span class="sw" style="color:{{.Color}}"></span>{{end}}{{.Text}}</td>{{end}}</tr>{{end}}
</tbody></table></div>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
</section>{{end}}
{{if .Samples}}<section>
<h2>Samples</h2>
{{range .Samples}}<details>
<summary>{{.Name}}: {{len .Samples}} of {{.Total}} sample(s){{if .RedTeamN}}; {{.FailedN}} of {{.RedTeamN}} red-team prompts failed{{end}}</summary>
{{range .Samples}}<div class="sample">
<p class="lbl">prompt</p><pre>{{.Prompt}}</pre>
<p class="lbl">completion{{with .Reward}} · reward {{num .}}{{end}}{{with .PModel}} · p(better than baseline) {{num .}}{{end}}</p><pre>{{.Completion}}</pre>
{{if .Baseline}}<p class="lbl">baseline</p><pre>{{.Baseline}}</pre>{{end}}
</div>{{end}}
{{range .Failed}}<div class="sample">
<p class="lbl">red-team prompt (failed)</p><pre>{{.Prompt}}</pre>
<p class="lbl">response</p><pre>{{.Response}}</pre>
</div>{{end}}
</details>{{end}}
</section>{{end}}
</body>
</html>
{{define "chart"}}<figure class="chart" id="chart-{{.ID}}">
<svg viewBox="0 0 {{.W}} {{.H}}" role="img" aria-labelledby="title-{{.ID}}" data-chart="{{.ID}}">
<title id="title-{{.ID}}">{{.Title}}</title>
<text class="ct" x="{{.L}}" y="22">{{.Title}}</text>{{$c := .}}
{{range .YTicks}}<line class="grid" x1="{{$c.L}}" x2="{{$c.R}}" y1="{{.Pos}}" y2="{{.Pos}}"/><text class="tl" x="{{$c.TickX}}" y="{{.Pos}}" dy="0.32em" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line class="grid" x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$c.T}}" y2="{{$c.B}}"/><text class="tl" x="{{.Pos}}" y="{{$c.TickY}}" text-anchor="middle">{{.Label}}</text>
{{end}}<rect class="frame" x="{{.L}}" y="{{.T}}" width="{{.PlotW}}" height="{{.PlotH}}"/>
<text class="al" x="{{.MidX}}" y="{{.XLabelY}}" text-anchor="middle">{{.XLabel}}</text>
{{range .Lines}}{{$l := .}}<g class="series{{if .Scatter}} scatter{{end}}" stroke="{{.Color}}" fill="{{.Color}}"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}><title>{{.Name}}</title>
{{range .Segments}}<polyline points="{{.}}"/>
{{end}}{{range .Marks}}<circle cx="{{.X}}" cy="{{.Y}}" r="{{if $l.Scatter}}3.5{{else}}2.6{{end}}"><title>{{.Tip}}</title></circle>{{end}}
</g>
{{end}}</svg>
<ul class="legend">{{range .Legend}}<li><span class="sw{{if .Dash}} dashed{{end}}" style="color:{{.Color}}"></span>{{.Label}}</li>{{end}}</ul>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
</figure>{{end}}`
