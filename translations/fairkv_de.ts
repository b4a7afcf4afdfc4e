<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>PlotExport</name>
    <message>
        <source>%1: plots export as .png or .svg</source>
        <translation>%1: Diagramme lassen sich nur als .png oder .svg exportieren</translation>
    </message>
    <message>
        <source>%1: cannot write the file</source>
        <translation>%1: Die Datei kann nicht geschrieben werden</translation>
    </message>
    <message>
        <source>Export plot…</source>
        <translation>Diagramm exportieren…</translation>
    </message>
    <message>
        <source>Export plot</source>
        <translation>Diagramm exportieren</translation>
    </message>
    <message>
        <source>SVG (*.svg);;PNG (*.png)</source>
        <translation>SVG (*.svg);;PNG (*.png)</translation>
    </message>
</context>
<context>
    <name>StudioRun</name>
    <message>
        <source>running · %1</source>
        <translation>läuft · %1</translation>
    </message>
    <message>
        <source>run %1 · %2</source>
        <translation>Lauf %1 · %2</translation>
    </message>
    <message>
        <source>measured</source>
        <translation>gemessen</translation>
    </message>
    <message>
        <source>emulated</source>
        <translation>emuliert</translation>
    </message>
    <message>
        <source>modelled</source>
        <translation>modelliert</translation>
    </message>
    <message>
        <source>n/a</source>
        <translation>k. A.</translation>
    </message>
    <message>
        <source>run %1</source>
        <translation>Lauf %1</translation>
    </message>
    <message>
        <source>model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>batch</source>
        <translation>Batch</translation>
    </message>
    <message>
        <source>layers</source>
        <translation>Schichten</translation>
    </message>
    <message>
        <source>units</source>
        <translation>Einheiten</translation>
    </message>
    <message>
        <source>compression</source>
        <translation>Kompression</translation>
    </message>
    <message>
        <source>budget</source>
        <translation>Budget</translation>
    </message>
    <message>
        <source>prompt length</source>
        <translation>Promptlänge</translation>
    </message>
    <message>
        <source>decode steps</source>
        <translation>Decode-Schritte</translation>
    </message>
</context>
<context>
    <name>fairkv::views::CompareView</name>
    <message>
        <source>Baseline:</source>
        <translation>Basislauf:</translation>
    </message>
    <message>
        <source>Compared:</source>
        <translation>Verglichen:</translation>
    </message>
    <message>
        <source>Difference in:</source>
        <translation>Differenz in:</translation>
    </message>
    <message>
        <source>KV tokens per unit (sum over requests)</source>
        <translation>KV-Token pro Einheit (Summe über Anfragen)</translation>
    </message>
    <message>
        <source>attention mass retained per unit</source>
        <translation>behaltene Attention-Masse pro Einheit</translation>
    </message>
    <message>
        <source>attention ms per rank</source>
        <translation>Attention-ms pro Rank</translation>
    </message>
    <message>
        <source>Hide |difference| below:</source>
        <translation>|Differenz| ausblenden unter:</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>Schicht</translation>
    </message>
    <message>
        <source>Select two or more runs to compare them.</source>
        <translation>Wählen Sie zwei oder mehr Läufe aus, um sie zu vergleichen.</translation>
    </message>
    <message>
        <source>Timing</source>
        <translation>Zeitmessung</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>Platzierung</translation>
    </message>
    <message>
        <source>Tokens/s</source>
        <translation>Token/s</translation>
    </message>
    <message>
        <source>Speedup over the baseline</source>
        <translation>Beschleunigung gegenüber dem Basislauf</translation>
    </message>
    <message>
        <source>Decode step (ms)</source>
        <translation>Decode-Schritt (ms)</translation>
    </message>
    <message>
        <source>Attention imbalance (max / mean)</source>
        <translation>Attention-Ungleichgewicht (Max / Mittel)</translation>
    </message>
    <message>
        <source>Attention, sum of per-layer max (ms)</source>
        <translation>Attention, Summe der Maxima pro Schicht (ms)</translation>
    </message>
    <message>
        <source>Lower bound (ms, modelled)</source>
        <translation>Untere Schranke (ms, modelliert)</translation>
    </message>
    <message>
        <source>Rank %1 attention (ms, summed over layers)</source>
        <translation>Attention auf Rank %1 (ms, über Schichten summiert)</translation>
    </message>
    <message>
        <source>Layer %1 slowest rank (ms)</source>
        <translation>Schicht %1, langsamster Rank (ms)</translation>
    </message>
    <message>
        <source>These runs have different shapes (layers, units or ranks): no cell-by-cell difference.</source>
        <translation>Diese Läufe haben unterschiedliche Formen (Schichten, Einheiten oder Ranks): keine zellenweise Differenz.</translation>
    </message>
    <message>
        <source>rank</source>
        <translation>Rank</translation>
    </message>
    <message>
        <source>unit</source>
        <translation>Einheit</translation>
    </message>
    <message>
        <source>computed</source>
        <translation>berechnet</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>Backend</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>Ranks</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Batch</translation>
    </message>
    <message>
        <source>Compression (budget)</source>
        <translation>Kompression (Budget)</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>Prompt length, decode steps</source>
        <translation>Promptlänge, Decode-Schritte</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1, %2</translation>
    </message>
    <message>
        <source>Differs from the baseline in</source>
        <translation>Weicht vom Basislauf ab in</translation>
    </message>
    <message>
        <source>difference (ms)</source>
        <translation>Differenz (ms)</translation>
    </message>
    <message>
        <source>difference (tokens)</source>
        <translation>Differenz (Token)</translation>
    </message>
    <message>
        <source>difference (mass)</source>
        <translation>Differenz (Masse)</translation>
    </message>
    <message>
        <source>Colour: %1 minus the baseline; red: higher, blue: lower (%2). %3 of %4 cells hidden (equal, or below the threshold).</source>
        <translation>Farbe: %1 minus Basislauf; rot: höher, blau: niedriger (%2). %3 von %4 Zellen ausgeblendet (gleich oder unter der Schwelle).</translation>
    </message>
    <message>
        <source>nothing: the same workload</source>
        <translation>nichts: dieselbe Arbeitslast</translation>
    </message>
</context>
<context>
    <name>fairkv::views::GpuLoadView</name>
    <message>
        <source>Summed over layers</source>
        <translation>Über Schichten summiert</translation>
    </message>
    <message>
        <source>Attention per layer</source>
        <translation>Attention pro Schicht</translation>
    </message>
    <message>
        <source>Show:</source>
        <translation>Anzeigen:</translation>
    </message>
    <message>
        <source>Run something or select runs in the list to see per-GPU load.</source>
        <translation>Starten Sie einen Lauf oder wählen Sie Läufe in der Liste aus, um die Last pro GPU zu sehen.</translation>
    </message>
    <message>
        <source>%1: attention</source>
        <translation>%1: Attention</translation>
    </message>
    <message>
        <source>%1: MLP</source>
        <translation>%1: MLP</translation>
    </message>
    <message>
        <source>%1: collectives</source>
        <translation>%1: Kollektive</translation>
    </message>
    <message>
        <source>rank %1</source>
        <translation>Rank %1</translation>
    </message>
    <message>
        <source>%1, rank %2</source>
        <translation>%1, Rank %2</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>Schicht</translation>
    </message>
    <message>
        <source>; speedup over %1: %L2× (%3)</source>
        <translation>; Beschleunigung gegenüber %1: %L2× (%3)</translation>
    </message>
    <message>
        <source>%1: %L2 tokens/s (%3), decode step %L4 ms (%3), attention imbalance %L5 (%3), attention lower bound %L6 ms (modelled)</source>
        <translation>%1: %L2 Token/s (%3), Decode-Schritt %L4 ms (%3), Attention-Ungleichgewicht %L5 (%3), untere Schranke der Attention %L6 ms (modelliert)</translation>
    </message>
    <message>
        <source>, within what the runs&apos; steps vary by (±%L1% in %2, ±%L3% in %4): it may be noise</source>
        <translation>, innerhalb der Schwankung der Schritte (±%L1 % in %2, ±%L3 % in %4): möglicherweise Rauschen</translation>
    </message>
    <message>
        <source> (steps vary by ±%L1% in %2, ±%L3% in %4)</source>
        <translation> (Schritte schwanken um ±%L1 % in %2, ±%L3 % in %4)</translation>
    </message>
    <message>
        <source>; the mean rank waits %L1 ms per step for each layer&apos;s slowest attention (%2)</source>
        <translation>; der mittlere Rang wartet %L1 ms pro Schritt auf die langsamste Attention jeder Schicht (%2)</translation>
    </message>
    <message numerus="yes">
        <source>, %n unit copies</source>
        <translation>
            <numerusform>, %n Einheitenkopie</numerusform>
            <numerusform>, %n Einheitenkopien</numerusform>
        </translation>
    </message>
    <message>
        <source>rank</source>
        <translation>Rank</translation>
    </message>
    <message>
        <source>ms/step (%1)</source>
        <translation>ms/Schritt (%1)</translation>
    </message>
    <message>
        <source>attention ms/step (%1)</source>
        <translation>Attention ms/Schritt (%1)</translation>
    </message>
    <message>
        <source>; unlike work: it differs from %1 in %2</source>
        <translation>; ungleiche Arbeit: weicht von %1 ab in %2</translation>
    </message>
    <message>
        <source>attention</source>
        <translation>Attention</translation>
    </message>
    <message>
        <source>MLP</source>
        <translation>MLP</translation>
    </message>
    <message>
        <source>collectives</source>
        <translation>Kollektive</translation>
    </message>
    <message>
        <source>%1: no decode step timed (prefill only), so no per-rank times</source>
        <translation>%1: kein Decode-Schritt gemessen (nur Prefill), daher keine Zeiten pro Rank</translation>
    </message>
</context>
<context>
    <name>fairkv::views::KernelStatsModel</name>
    <message>
        <source>Kernel / op</source>
        <translation>Kernel / Op</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>Anzahl</translation>
    </message>
    <message>
        <source>Total ms</source>
        <translation>Gesamt ms</translation>
    </message>
    <message>
        <source>Mean µs</source>
        <translation>Mittel µs</translation>
    </message>
    <message>
        <source>Median µs</source>
        <translation>Median µs</translation>
    </message>
    <message>
        <source>prefill</source>
        <translation>Prefill</translation>
    </message>
    <message>
        <source>decode</source>
        <translation>Decode</translation>
    </message>
    <message>
        <source>Phase</source>
        <translation>Phase</translation>
    </message>
</context>
<context>
    <name>fairkv::views::KvHeatmapView</name>
    <message>
        <source>Retained KV tokens (mean over requests)</source>
        <translation>Behaltene KV-Token (Mittel über Anfragen)</translation>
    </message>
    <message>
        <source>Retained KV tokens (one request)</source>
        <translation>Behaltene KV-Token (eine Anfrage)</translation>
    </message>
    <message>
        <source>Share of the layer&apos;s KV</source>
        <translation>Anteil am KV der Schicht</translation>
    </message>
    <message>
        <source>Attention mass retained</source>
        <translation>Behaltene Attention-Masse</translation>
    </message>
    <message>
        <source>request </source>
        <translation>Anfrage </translation>
    </message>
    <message>
        <source>Log scale</source>
        <translation>Logarithmische Skala</translation>
    </message>
    <message>
        <source>Show placement</source>
        <translation>Platzierung anzeigen</translation>
    </message>
    <message>
        <source>Metric:</source>
        <translation>Metrik:</translation>
    </message>
    <message>
        <source>Click a cell to see the unit&apos;s details.</source>
        <translation>Klicken Sie auf eine Zelle, um die Details der Einheit zu sehen.</translation>
    </message>
    <message>
        <source>unit</source>
        <translation>Einheit</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>Schicht</translation>
    </message>
    <message>
        <source>retained KV tokens</source>
        <translation>behaltene KV-Token</translation>
    </message>
    <message>
        <source>share of the layer&apos;s KV (%)</source>
        <translation>Anteil am KV der Schicht (%)</translation>
    </message>
    <message>
        <source>attention mass retained</source>
        <translation>behaltene Attention-Masse</translation>
    </message>
    <message>
        <source>r%1</source>
        <translation>r%1</translation>
    </message>
    <message>
        <source>layer %1, unit %2
rank %3
%4: %5</source>
        <translation>Schicht %1, Einheit %2
Rank %3
%4: %5</translation>
    </message>
    <message>
        <source> rank %1 serves requests %2;</source>
        <translation> Rank %1 bedient Anfragen %2;</translation>
    </message>
    <message>
        <source>Layer %1, unit %2 —%3 retained tokens per request: %4; attention mass retained: %5</source>
        <translation>Schicht %1, Einheit %2 —%3 behaltene Token pro Anfrage: %4; behaltene Attention-Masse: %5</translation>
    </message>
    <message>
        <source>The map shows one run: the last one selected in the run list</source>
        <translation>Die Karte zeigt einen Lauf: den zuletzt in der Laufliste ausgewählten</translation>
    </message>
    <message numerus="yes">
        <source>mean %1, %2–%3 over %n request(s)</source>
        <translation>
            <numerusform>Mittel %1, %2–%3 über %n Anfrage</numerusform>
            <numerusform>Mittel %1, %2–%3 über %n Anfragen</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1 %</translation>
    </message>
    <message>
        <source>%L1 cells: too many for rank labels; hover a cell for its ranks</source>
        <translation>%L1 Zellen: zu viele für Rank-Beschriftungen; zeigen Sie auf eine Zelle, um ihre Ranks zu sehen</translation>
    </message>
    <message>
        <source>×%1</source>
        <translation>×%1</translation>
    </message>
    <message numerus="yes">
        <source>%n cell(s) too small for their rank labels; hover a cell or enlarge the map</source>
        <translation>
            <numerusform>%n Zelle zu klein für ihre Rank-Beschriftung; zeigen Sie auf die Zelle oder vergrößern Sie die Karte</numerusform>
            <numerusform>%n Zellen zu klein für ihre Rank-Beschriftungen; zeigen Sie auf eine Zelle oder vergrößern Sie die Karte</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::MainWindow</name>
    <message>
        <source>Idle</source>
        <translation>Leerlauf</translation>
    </message>
    <message>
        <source>Open session</source>
        <translation>Sitzung öffnen</translation>
    </message>
    <message>
        <source>FairKV sessions (*.fkv)</source>
        <translation>FairKV-Sitzungen (*.fkv)</translation>
    </message>
    <message>
        <source>The run failed: %1</source>
        <translation>Der Lauf ist fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>Lauf fehlgeschlagen</translation>
    </message>
    <message>
        <source>Cancelled. The session is unchanged.</source>
        <translation>Abgebrochen. Die Sitzung ist unverändert.</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>Abgebrochen</translation>
    </message>
    <message>
        <source>Select one run to inspect it, several to compare them side by side</source>
        <translation>Wählen Sie einen Lauf zum Untersuchen oder mehrere zum direkten Vergleich</translation>
    </message>
    <message>
        <source>GPU load</source>
        <translation>GPU-Last</translation>
    </message>
    <message>
        <source>Runs</source>
        <translation>Läufe</translation>
    </message>
    <message>
        <source>Timeline</source>
        <translation>Zeitleiste</translation>
    </message>
    <message>
        <source>Kernel statistics</source>
        <translation>Kernel-Statistik</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Datei</translation>
    </message>
    <message>
        <source>&amp;New Session</source>
        <translation>&amp;Neue Sitzung</translation>
    </message>
    <message>
        <source>&amp;Open Session…</source>
        <translation>Sitzung &amp;öffnen…</translation>
    </message>
    <message>
        <source>Save Session &amp;As…</source>
        <translation>Sitzung speichern &amp;unter…</translation>
    </message>
    <message>
        <source>Save session as</source>
        <translation>Sitzung speichern unter</translation>
    </message>
    <message>
        <source>Open &amp;Recent</source>
        <translation>&amp;Zuletzt geöffnet</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>(keine)</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>A&amp;usführen</translation>
    </message>
    <message>
        <source>Run the &amp;Demo</source>
        <translation>&amp;Demo ausführen</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>&amp;Abbrechen</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Ansicht</translation>
    </message>
    <message>
        <source>&amp;Theme</source>
        <translation>&amp;Design</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>Wie System</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Hell</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Dunkel</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;About FairKV Studio</source>
        <translation>&amp;Über FairKV Studio</translation>
    </message>
    <message>
        <source>About FairKV Studio</source>
        <translation>Über FairKV Studio</translation>
    </message>
    <message>
        <source>FairKV Studio %1 — a profiler for tensor-parallel decoding with compressed KV caches.</source>
        <translation>FairKV Studio %1 — ein Profiler für tensorparallelen Decode mit komprimierten KV-Caches.</translation>
    </message>
    <message>
        <source>FairKV Studio — unsaved session</source>
        <translation>FairKV Studio — ungespeicherte Sitzung</translation>
    </message>
    <message>
        <source>FairKV Studio — %1%2</source>
        <translation>FairKV Studio — %1%2</translation>
    </message>
    <message>
        <source> (read-only)</source>
        <translation> (schreibgeschützt)</translation>
    </message>
    <message>
        <source>Cannot create a session</source>
        <translation>Sitzung kann nicht erstellt werden</translation>
    </message>
    <message>
        <source>Cannot open the session</source>
        <translation>Sitzung kann nicht geöffnet werden</translation>
    </message>
    <message numerus="yes">
        <source>Opened %1 (%n run(s))</source>
        <translation>
            <numerusform>%1 geöffnet (%n Lauf)</numerusform>
            <numerusform>%1 geöffnet (%n Läufe)</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot save the session</source>
        <translation>Sitzung kann nicht gespeichert werden</translation>
    </message>
    <message>
        <source>Cannot run</source>
        <translation>Ausführen nicht möglich</translation>
    </message>
    <message>
        <source>This session is read-only. Use File ▸ Save Session As to keep new runs.</source>
        <translation>Diese Sitzung ist schreibgeschützt. Verwenden Sie Datei ▸ Sitzung speichern unter, um neue Läufe zu behalten.</translation>
    </message>
    <message numerus="yes">
        <source>Running %1 on %n rank(s)…</source>
        <translation>
            <numerusform>%1 läuft auf %n Rank…</numerusform>
            <numerusform>%1 läuft auf %n Ranks…</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot save the run</source>
        <translation>Lauf kann nicht gespeichert werden</translation>
    </message>
    <message>
        <source>Run %1 finished</source>
        <translation>Lauf %1 abgeschlossen</translation>
    </message>
    <message>
        <source>Cannot read the run</source>
        <translation>Lauf kann nicht gelesen werden</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>Vergleich</translation>
    </message>
    <message>
        <source>Placement editor</source>
        <translation>Platzierungseditor</translation>
    </message>
    <message>
        <source>&amp;Export Comparison Report…</source>
        <translation>&amp;Vergleichsbericht exportieren…</translation>
    </message>
    <message>
        <source>Export comparison report</source>
        <translation>Vergleichsbericht exportieren</translation>
    </message>
    <message>
        <source>HTML (*.html);;PDF (*.pdf);;CSV table (*.csv);;JSON (*.json)</source>
        <translation>HTML (*.html);;PDF (*.pdf);;CSV-Tabelle (*.csv);;JSON (*.json)</translation>
    </message>
    <message>
        <source>Cannot re-run</source>
        <translation>Erneutes Ausführen nicht möglich</translation>
    </message>
    <message>
        <source>Re-running run %1 with the %2 placement…</source>
        <translation>Lauf %1 wird mit der Platzierung „%2“ erneut ausgeführt…</translation>
    </message>
    <message>
        <source>Finished: %L1 tokens/s (%2), saved as run %3.</source>
        <translation>Abgeschlossen: %L1 Token/s (%2), gespeichert als Lauf %3.</translation>
    </message>
    <message>
        <source>Cannot export a report</source>
        <translation>Bericht kann nicht exportiert werden</translation>
    </message>
    <message>
        <source>Select the runs to compare in the Runs list first.</source>
        <translation>Wählen Sie zuerst in der Liste „Läufe“ die zu vergleichenden Läufe aus.</translation>
    </message>
    <message>
        <source>Report written to %1</source>
        <translation>Bericht nach %1 geschrieben</translation>
    </message>
    <message>
        <source>Last run: backend %1, %2 ranks (%3)</source>
        <translation>Letzter Lauf: Backend %1, %2 Ranks (%3)</translation>
    </message>
    <message>
        <source>No session is open.</source>
        <translation>Es ist keine Sitzung geöffnet.</translation>
    </message>
    <message>
        <source>Select a stored run to re-run.</source>
        <translation>Wählen Sie einen gespeicherten Lauf zum erneuten Ausführen.</translation>
    </message>
    <message>
        <source>Re-running run %1 with the %2 placement: its engine is not loaded, so its prompts are prefilled again…</source>
        <translation>Lauf %1 wird mit der Platzierung %2 erneut ausgeführt: Seine Engine ist nicht geladen, daher werden seine Prompts erneut per Prefill verarbeitet…</translation>
    </message>
    <message>
        <source>Run %1: %2</source>
        <translation>Lauf %1: %2</translation>
    </message>
    <message>
        <source>Records of the selected run in the timeline&apos;s selection (all of it when none is selected), timed as the run says: measured on the GPU by CUPTI, or on the host</source>
        <translation>Einträge des gewählten Laufs im ausgewählten Bereich der Zeitleiste (ohne Auswahl: alle), so gemessen, wie der Lauf angibt: auf der GPU mit CUPTI oder auf dem Host</translation>
    </message>
    <message>
        <source>New run</source>
        <translation>Neuer Lauf</translation>
    </message>
    <message>
        <source>This machine: %1 CPU cores, %2</source>
        <translation>Dieser Rechner: %1 CPU-Kerne, %2</translation>
    </message>
    <message>
        <source>This machine: %1 CPU cores, no GPU; ranks run emulated on the CPU</source>
        <translation>Dieser Rechner: %1 CPU-Kerne, keine GPU; Ranks laufen emuliert auf der CPU</translation>
    </message>
    <message>
        <source>The session file %1 is gone (moved or deleted since it was opened): open it again, or use File ▸ Save Session As to keep new runs.</source>
        <translation>Die Sitzungsdatei %1 ist nicht mehr vorhanden (seit dem Öffnen verschoben oder gelöscht): Öffnen Sie sie erneut, oder verwenden Sie Datei ▸ Sitzung speichern unter, um neue Läufe zu behalten.</translation>
    </message>
    <message>
        <source>HeadKV needs its per-head scores: choose a head score file beside Compression.</source>
        <translation>HeadKV braucht seine Bewertungen pro Kopf: Wählen Sie neben Komprimierung eine Datei mit Kopfbewertungen.</translation>
    </message>
</context>
<context>
    <name>fairkv::views::PlacementEditor</name>
    <message>
        <source>Re-run with this placement</source>
        <translation>Mit dieser Platzierung erneut ausführen</translation>
    </message>
    <message>
        <source>Layer:</source>
        <translation>Schicht:</translation>
    </message>
    <message>
        <source>The layer whose units are shown</source>
        <translation>Die Schicht, deren Einheiten angezeigt werden</translation>
    </message>
    <message>
        <source>Apply to all layers</source>
        <translation>Auf alle Schichten anwenden</translation>
    </message>
    <message>
        <source>Every layer takes this layer&apos;s placement</source>
        <translation>Alle Schichten übernehmen die Platzierung dieser Schicht</translation>
    </message>
    <message>
        <source>Start from:</source>
        <translation>Ausgangspunkt:</translation>
    </message>
    <message>
        <source>the run&apos;s placement</source>
        <translation>Platzierung des Laufs</translation>
    </message>
    <message>
        <source>uniform split</source>
        <translation>gleichmäßige Aufteilung (uniform)</translation>
    </message>
    <message>
        <source>FairKV assign</source>
        <translation>FairKV assign</translation>
    </message>
    <message>
        <source>FairKV copy</source>
        <translation>FairKV copy</translation>
    </message>
    <message>
        <source>Use</source>
        <translation>Verwenden</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>Wiederholen</translation>
    </message>
    <message>
        <source>Load…</source>
        <translation>Laden…</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>Speichern…</translation>
    </message>
    <message>
        <source>Load placement</source>
        <translation>Platzierung laden</translation>
    </message>
    <message>
        <source>Placement JSON (*.json)</source>
        <translation>Platzierungs-JSON (*.json)</translation>
    </message>
    <message>
        <source>Save placement</source>
        <translation>Platzierung speichern</translation>
    </message>
    <message>
        <source>Run something or select a run to edit its placement.</source>
        <translation>Starten Sie einen Lauf oder wählen Sie einen Lauf aus, um seine Platzierung zu bearbeiten.</translation>
    </message>
    <message>
        <source>This run&apos;s placement cannot be edited: %1</source>
        <translation>Die Platzierung dieses Laufs kann nicht bearbeitet werden: %1</translation>
    </message>
    <message>
        <source>Refused: %1</source>
        <translation>Abgelehnt: %1</translation>
    </message>
    <message>
        <source>Move unit %1 to rank %2</source>
        <translation>Einheit %1 auf Rank %2 verschieben</translation>
    </message>
    <message>
        <source>Replicate unit %1 on rank %2</source>
        <translation>Einheit %1 auf Rank %2 replizieren</translation>
    </message>
    <message>
        <source>Remove a replica of unit %1</source>
        <translation>Ein Replikat von Einheit %1 entfernen</translation>
    </message>
    <message>
        <source>Requests of unit %1</source>
        <translation>Anfragen von Einheit %1</translation>
    </message>
    <message>
        <source>Layer %1 to all layers</source>
        <translation>Schicht %1 auf alle Schichten</translation>
    </message>
    <message>
        <source>the planners need the run&apos;s cost model, and this run measured no decode step</source>
        <translation>die Planer benötigen das Kostenmodell des Laufs, und dieser Lauf hat keinen Decode-Schritt gemessen</translation>
    </message>
    <message>
        <source>Start from %1</source>
        <translation>Von %1 ausgehen</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>%1 laden</translation>
    </message>
    <message>
        <source>Unit %1 · %L2 KV tokens
%3</source>
        <translation>Einheit %1 · %L2 KV-Token
%3</translation>
    </message>
    <message>
        <source>all requests</source>
        <translation>alle Anfragen</translation>
    </message>
    <message>
        <source>requests %1</source>
        <translation>Anfragen %1</translation>
    </message>
    <message>
        <source>Unit %1 has %2 replicas; this one serves requests %3</source>
        <translation>Einheit %1 hat %2 Replikate; dieses bedient Anfragen %3</translation>
    </message>
    <message>
        <source>Drag to another rank to move; right-click for replicas</source>
        <translation>Zum Verschieben auf einen anderen Rank ziehen; Rechtsklick für Replikate</translation>
    </message>
    <message>
        <source>
%L1 ms modelled</source>
        <translation>
%L1 ms modelliert</translation>
    </message>
    <message>
        <source>Layer %1: slowest rank %L2 ms, lower bound %L3 ms (gap %L4%). All layers: %L5 ms, bound %L6 ms (gap %L7%). Attention time modelled from the run&apos;s cost model.</source>
        <translation>Schicht %1: langsamster Rank %L2 ms, untere Schranke %L3 ms (Abstand %L4%). Alle Schichten: %L5 ms, Schranke %L6 ms (Abstand %L7%). Attention-Zeit aus dem Kostenmodell des Laufs modelliert.</translation>
    </message>
    <message>
        <source>This run measured no decode step, so there is no cost model: loads are shown in KV tokens.</source>
        <translation>Dieser Lauf hat keinen Decode-Schritt gemessen, daher gibt es kein Kostenmodell: Lasten werden in KV-Token angezeigt.</translation>
    </message>
    <message>
        <source>Valid placement: every unit&apos;s replicas serve each request exactly once.</source>
        <translation>Gültige Platzierung: Die Replikate jeder Einheit bedienen jede Anfrage genau einmal.</translation>
    </message>
    <message>
        <source>Invalid: %1</source>
        <translation>Ungültig: %1</translation>
    </message>
    <message>
        <source>Move shards and KV of the loaded run to this placement and decode its steps again</source>
        <translation>Shards und KV des geladenen Laufs in diese Platzierung verschieben und seine Schritte erneut dekodieren</translation>
    </message>
    <message>
        <source>Move to rank</source>
        <translation>Auf Rank verschieben</translation>
    </message>
    <message>
        <source>Add replica on rank</source>
        <translation>Replikat auf Rank hinzufügen</translation>
    </message>
    <message>
        <source>Rank %1</source>
        <translation>Rank %1</translation>
    </message>
    <message>
        <source>Add replica</source>
        <translation>Replikat hinzufügen</translation>
    </message>
    <message>
        <source>Requests the new replica serves (e.g. 0, 2, 4-7):</source>
        <translation>Anfragen, die das neue Replikat bedient (z. B. 0, 2, 4-7):</translation>
    </message>
    <message>
        <source>Serve requests…</source>
        <translation>Anfragen bedienen…</translation>
    </message>
    <message>
        <source>Serve requests</source>
        <translation>Anfragen bedienen</translation>
    </message>
    <message>
        <source>Requests this replica serves (e.g. 0, 2, 4-7):</source>
        <translation>Anfragen, die dieses Replikat bedient (z. B. 0, 2, 4-7):</translation>
    </message>
    <message>
        <source>Remove this replica</source>
        <translation>Dieses Replikat entfernen</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a list of request numbers between 0 and %2</source>
        <translation>„%1“ ist keine Liste von Anfragenummern zwischen 0 und %2</translation>
    </message>
    <message>
        <source>Edit all layers</source>
        <translation>Alle Schichten bearbeiten</translation>
    </message>
    <message>
        <source>Apply every edit to all layers (replicas matched by rank)</source>
        <translation>Jede Änderung auf alle Schichten anwenden (Replikate werden über ihren Rank zugeordnet)</translation>
    </message>
    <message>
        <source>%1 (all layers)</source>
        <translation>%1 (alle Schichten)</translation>
    </message>
    <message>
        <source>This run&apos;s engine is not loaded: the re-run prefills its prompts again, then decodes its steps under this placement</source>
        <translation>Die Engine dieses Laufs ist nicht geladen: Die erneute Ausführung verarbeitet seine Prompts erneut per Prefill und dekodiert dann seine Schritte mit dieser Platzierung</translation>
    </message>
    <message>
        <source>Its measured attention times barely grew with the retained KV (fitted per-token cost under 1% of a unit&apos;s fixed cost), so the model prices every unit alike and cannot tell these placements apart.</source>
        <translation>Seine gemessenen Attention-Zeiten wuchsen kaum mit dem behaltenen KV (angepasste Kosten pro Token unter 1 % der festen Kosten einer Einheit); das Modell bewertet daher jede Einheit gleich und kann diese Platzierungen nicht unterscheiden.</translation>
    </message>
    <message numerus="yes">
        <source>Rank %1
%n unit(s), %L2 KV tokens (all requests)</source>
        <translation>
            <numerusform>Rank %1
%n Einheit, %L2 KV-Token (alle Anfragen)</numerusform>
            <numerusform>Rank %1
%n Einheiten, %L2 KV-Token (alle Anfragen)</numerusform>
        </translation>
    </message>
    <message>
        <source>Editing %1. %2</source>
        <translation>Bearbeitet: %1. %2</translation>
    </message>
    <message>
        <source>Replace the placement with the chosen one (one undo step)</source>
        <translation>Die Platzierung durch die gewählte ersetzen (ein Rückgängig-Schritt)</translation>
    </message>
    <message>
        <source>Planning…</source>
        <translation>Plane…</translation>
    </message>
</context>
<context>
    <name>fairkv::views::RunPanel</name>
    <message>
        <source>A built-in shape (synthetic weights) or an HF checkpoint folder</source>
        <translation>Eine eingebaute Modellform (synthetische Gewichte) oder ein HF-Checkpoint-Ordner</translation>
    </message>
    <message>
        <source>Folder…</source>
        <translation>Ordner…</translation>
    </message>
    <message>
        <source>Use only the first N layers (0: all)</source>
        <translation>Nur die ersten N Schichten verwenden (0: alle)</translation>
    </message>
    <message>
        <source>all</source>
        <translation>alle</translation>
    </message>
    <message>
        <source>Tensor-parallel ranks</source>
        <translation>Tensorparallele Ranks</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>CUDA (GPU)</source>
        <translation>CUDA (GPU)</translation>
    </message>
    <message>
        <source>CUDA (not in this build)</source>
        <translation>CUDA (in diesem Build nicht enthalten)</translation>
    </message>
    <message>
        <source>KV head with its query group (GQA)</source>
        <translation>KV-Head mit seiner Query-Gruppe (GQA)</translation>
    </message>
    <message>
        <source>Query head (per-query-head)</source>
        <translation>Query-Head (per-query-head)</translation>
    </message>
    <message>
        <source>KV tokens kept per unit, observation window included</source>
        <translation>Pro Einheit behaltene KV-Token, inklusive Beobachtungsfenster</translation>
    </message>
    <message>
        <source>Requests decoded together</source>
        <translation>Gemeinsam dekodierte Anfragen</translation>
    </message>
    <message>
        <source>Prompt tokens per request (seeded random ids)</source>
        <translation>Prompt-Token pro Anfrage (zufällige IDs mit Seed)</translation>
    </message>
    <message>
        <source>Decode steps</source>
        <translation>Decode-Schritte</translation>
    </message>
    <message>
        <source>uniform (standard TP)</source>
        <translation>uniform (Standard-TP)</translation>
    </message>
    <message>
        <source>FairKV assign</source>
        <translation>FairKV assign</translation>
    </message>
    <message>
        <source>FairKV copy</source>
        <translation>FairKV copy</translation>
    </message>
    <message>
        <source>From file…</source>
        <translation>Aus Datei…</translation>
    </message>
    <message>
        <source>Seed of weights, prompts and sampling</source>
        <translation>Seed für Gewichte, Prompts und Sampling</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>Schichten</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>Ranks</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>Backend</translation>
    </message>
    <message>
        <source>Units</source>
        <translation>Einheiten</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>Kompression</translation>
    </message>
    <message>
        <source>Budget</source>
        <translation>Budget</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Batch</translation>
    </message>
    <message>
        <source>Prompt length</source>
        <translation>Prompt-Länge</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>Platzierung</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>Seed</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Ausführen</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Ready.</source>
        <translation>Bereit.</translation>
    </message>
    <message>
        <source>Decoding step %1 of %2%3</source>
        <translation>Decode-Schritt %1 von %2%3</translation>
    </message>
    <message>
        <source>%1…</source>
        <translation>%1…</translation>
    </message>
    <message>
        <source>HF checkpoint folder</source>
        <translation>HF-Checkpoint-Ordner</translation>
    </message>
    <message>
        <source>Placement file</source>
        <translation>Platzierungsdatei</translation>
    </message>
    <message>
        <source>Placement JSON (*.json)</source>
        <translation>Platzierungs-JSON (*.json)</translation>
    </message>
    <message>
        <source>Loading the model…</source>
        <translation>Modell wird geladen…</translation>
    </message>
    <message>
        <source>Prefilling the prompts…</source>
        <translation>Prefill der Prompts läuft…</translation>
    </message>
    <message>
        <source>Calibrating the cost model on one decode step…</source>
        <translation>Kostenmodell wird an einem Decode-Schritt kalibriert…</translation>
    </message>
    <message>
        <source>Moving shards and KV to the new placement…</source>
        <translation>Shards und KV werden in die neue Platzierung verschoben…</translation>
    </message>
    <message>
        <source>, about %L1 s left</source>
        <translation>, noch etwa %L1 s</translation>
    </message>
    <message>
        <source>HeadKV score file (JSON)</source>
        <translation>HeadKV-Bewertungsdatei (JSON)</translation>
    </message>
    <message>
        <source>Per-head importance scores: {&quot;scores&quot;: [[each unit&apos;s score], ...]} per layer, or the {&quot;layer-head&quot;: [...]} files of HeadKV&apos;s head detection</source>
        <translation>Bewertungen der Wichtigkeit pro Kopf: {&quot;scores&quot;: [[Bewertung jeder Einheit], ...]} pro Schicht, oder die {&quot;layer-head&quot;: [...]}-Dateien der Kopferkennung von HeadKV</translation>
    </message>
    <message>
        <source>File…</source>
        <translation>Datei…</translation>
    </message>
    <message>
        <source>Head scores</source>
        <translation>Kopfbewertungen</translation>
    </message>
    <message>
        <source>Head score file</source>
        <translation>Datei mit Kopfbewertungen</translation>
    </message>
    <message>
        <source>Head scores (*.json)</source>
        <translation>Kopfbewertungen (*.json)</translation>
    </message>
</context>
<context>
    <name>fairkv::views::RunsModel</name>
    <message>
        <source>Decode throughput (%1)</source>
        <translation>Decode-Durchsatz (%1)</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>Lauf</translation>
    </message>
    <message>
        <source>Parent</source>
        <translation>Ursprung</translation>
    </message>
    <message>
        <source>Label</source>
        <translation>Bezeichnung</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>Platzierung</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>Kompression</translation>
    </message>
    <message>
        <source>Budget</source>
        <translation>Budget</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Batch</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>Ranks</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>Backend</translation>
    </message>
    <message>
        <source>Tokens/s</source>
        <translation>Token/s</translation>
    </message>
    <message>
        <source>Step ms</source>
        <translation>Schritt ms</translation>
    </message>
    <message>
        <source>Imbalance</source>
        <translation>Ungleichgewicht</translation>
    </message>
    <message>
        <source>Timing</source>
        <translation>Zeitmessung</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>Schritte</translation>
    </message>
    <message>
        <source>settings and result damaged</source>
        <translation>Einstellungen und Ergebnis beschädigt</translation>
    </message>
    <message>
        <source>settings damaged</source>
        <translation>Einstellungen beschädigt</translation>
    </message>
    <message>
        <source>result damaged</source>
        <translation>Ergebnis beschädigt</translation>
    </message>
    <message>
        <source>[%1] %2</source>
        <translation>[%1] %2</translation>
    </message>
    <message>
        <source>This run&apos;s stored record cannot be read (edited or corrupted outside FairKV Studio): %1</source>
        <translation>Der gespeicherte Datensatz dieses Laufs ist nicht lesbar (außerhalb von FairKV Studio bearbeitet oder beschädigt): %1</translation>
    </message>
</context>
<context>
    <name>fairkv::views::SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>CUDA (GPU)</source>
        <translation>CUDA (GPU)</translation>
    </message>
    <message>
        <source>CUDA (not in this build)</source>
        <translation>CUDA (in diesem Build nicht enthalten)</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>Wie System</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>Hell</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>Dunkel</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>Systemsprache</translation>
    </message>
    <message>
        <source>Default backend</source>
        <translation>Standard-Backend</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>Design</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>Sprache</translation>
    </message>
    <message>
        <source>A new language takes effect at the next start.</source>
        <translation>Eine neue Sprache wird beim nächsten Start wirksam.</translation>
    </message>
</context>
<context>
    <name>fairkv::views::StartPage</name>
    <message>
        <source>&lt;h2&gt;FairKV Studio&lt;/h2&gt;&lt;p&gt;Profile tensor-parallel decoding with compressed KV caches: how much KV each head keeps, how evenly the ranks are loaded, and what FairKV placements gain over the uniform split.&lt;/p&gt;</source>
        <translation>&lt;h2&gt;FairKV Studio&lt;/h2&gt;&lt;p&gt;Profilieren Sie tensorparallelen Decode mit komprimierten KV-Caches: wie viel KV jeder Head behält, wie gleichmäßig die Ranks ausgelastet sind und was FairKV-Platzierungen gegenüber der gleichmäßigen Aufteilung (uniform) gewinnen.&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Run the demo</source>
        <translation>Demo ausführen</translation>
    </message>
    <message>
        <source>tiny model, 4 ranks, Ada-SnapKV, on this machine&apos;s CPU</source>
        <translation>kleines Modell, 4 Ranks, Ada-SnapKV, auf der CPU dieses Rechners</translation>
    </message>
    <message>
        <source>Open a session…</source>
        <translation>Sitzung öffnen…</translation>
    </message>
    <message>
        <source>Recent sessions:</source>
        <translation>Zuletzt verwendete Sitzungen:</translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation>%1 — %2</translation>
    </message>
    <message>
        <source>(none yet)</source>
        <translation>(noch keine)</translation>
    </message>
</context>
<context>
    <name>fairkv::views::TimelineView</name>
    <message>
        <source>No trace: run something or open a session.</source>
        <translation>Kein Trace: Starten Sie einen Lauf oder öffnen Sie eine Sitzung.</translation>
    </message>
    <message>
        <source>rank %1</source>
        <translation>Rank %1</translation>
    </message>
    <message>
        <source>all ranks</source>
        <translation>alle Ranks</translation>
    </message>
    <message>
        <source>Wheel: zoom · drag: pan · Shift+drag: select a range · double-click: the whole run</source>
        <translation>Mausrad: Zoomen · Ziehen: Verschieben · Umschalt+Ziehen: Bereich auswählen · Doppelklick: der ganze Lauf</translation>
    </message>
    <message>
        <source>%L1 s</source>
        <translation>%L1 s</translation>
    </message>
    <message>
        <source>%L1 ms</source>
        <translation>%L1 ms</translation>
    </message>
    <message>
        <source>%L1 µs</source>
        <translation>%L1 µs</translation>
    </message>
    <message>
        <source>%L1 ns</source>
        <translation>%L1 ns</translation>
    </message>
    <message>
        <source>attention</source>
        <translation>Attention</translation>
    </message>
    <message>
        <source>MLP</source>
        <translation>MLP</translation>
    </message>
    <message>
        <source>collective</source>
        <translation>Kollektive</translation>
    </message>
    <message>
        <source>compression</source>
        <translation>Kompression</translation>
    </message>
    <message>
        <source>replicated work</source>
        <translation>replizierte Arbeit</translation>
    </message>
    <message>
        <source>prefill, steps, other</source>
        <translation>Prefill, Schritte, Sonstiges</translation>
    </message>
    <message>
        <source>This run has no trace records (saved with --no-trace, or its records were left out as damaged).</source>
        <translation>Dieser Lauf hat keine Trace-Einträge (mit --no-trace gespeichert, oder seine Einträge wurden als beschädigt ausgelassen).</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Profiler for tensor-parallel decoding with compressed KV caches</source>
        <translation>Profiler für tensorparallelen Decode mit komprimierten KV-Caches</translation>
    </message>
    <message>
        <source>Run the CPU demo at start.</source>
        <translation>Beim Start die CPU-Demo ausführen.</translation>
    </message>
    <message>
        <source>Run the demo, save screenshots of every view to &lt;dir&gt;, quit.</source>
        <translation>Demo ausführen, Screenshots aller Ansichten in &lt;dir&gt; speichern, beenden.</translation>
    </message>
    <message>
        <source>A session file (.fkv) to open.</source>
        <translation>Zu öffnende Sitzungsdatei (.fkv).</translation>
    </message>
</context>
</TS>
