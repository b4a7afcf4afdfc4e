<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_US">
<context>
    <name>fairkv::views::KvHeatmapView</name>
    <message numerus="yes">
        <source>%n cell(s) too small for their rank labels; hover a cell or enlarge the map</source>
        <translation>
            <numerusform>%n cell too small for its rank label; hover a cell or enlarge the map</numerusform>
            <numerusform>%n cells too small for their rank labels; hover a cell or enlarge the map</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::MainWindow</name>
    <message numerus="yes">
        <source>Opened %1 (%n run(s))</source>
        <translation>
            <numerusform>Opened %1 (%n run)</numerusform>
            <numerusform>Opened %1 (%n runs)</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Running %1 on %n rank(s)…</source>
        <translation>
            <numerusform>Running %1 on %n rank…</numerusform>
            <numerusform>Running %1 on %n ranks…</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::PlacementEditor</name>
    <message numerus="yes">
        <source>Rank %1
%n unit(s), %L2 KV tokens (all requests)</source>
        <translation>
            <numerusform>Rank %1
%n unit, %L2 KV tokens (all requests)</numerusform>
            <numerusform>Rank %1
%n units, %L2 KV tokens (all requests)</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::GpuLoadView</name>
    <message numerus="yes">
        <source>, %n unit copies</source>
        <translation>
            <numerusform>, %n unit copy</numerusform>
            <numerusform>, %n unit copies</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::KvHeatmapView</name>
    <message numerus="yes">
        <source>mean %1, %2–%3 over %n request(s)</source>
        <translation>
            <numerusform>mean %1, %2–%3 over %n request</numerusform>
            <numerusform>mean %1, %2–%3 over %n requests</numerusform>
        </translation>
    </message>
</context>
</TS>
