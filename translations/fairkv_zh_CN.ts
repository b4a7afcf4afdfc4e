<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>PlotExport</name>
    <message>
        <source>%1: plots export as .png or .svg</source>
        <translation>%1：图表只能导出为 .png 或 .svg</translation>
    </message>
    <message>
        <source>%1: cannot write the file</source>
        <translation>%1：无法写入文件</translation>
    </message>
    <message>
        <source>Export plot…</source>
        <translation>导出图表…</translation>
    </message>
    <message>
        <source>Export plot</source>
        <translation>导出图表</translation>
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
        <translation>运行中 · %1</translation>
    </message>
    <message>
        <source>run %1 · %2</source>
        <translation>运行 %1 · %2</translation>
    </message>
    <message>
        <source>measured</source>
        <translation>实测</translation>
    </message>
    <message>
        <source>emulated</source>
        <translation>模拟</translation>
    </message>
    <message>
        <source>modelled</source>
        <translation>建模</translation>
    </message>
    <message>
        <source>n/a</source>
        <translation>不适用</translation>
    </message>
    <message>
        <source>run %1</source>
        <translation>运行 %1</translation>
    </message>
    <message>
        <source>model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>batch</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <source>units</source>
        <translation>单元</translation>
    </message>
    <message>
        <source>compression</source>
        <translation>压缩</translation>
    </message>
    <message>
        <source>budget</source>
        <translation>预算</translation>
    </message>
    <message>
        <source>prompt length</source>
        <translation>提示长度</translation>
    </message>
    <message>
        <source>decode steps</source>
        <translation>解码步数</translation>
    </message>
</context>
<context>
    <name>fairkv::views::CompareView</name>
    <message>
        <source>Baseline:</source>
        <translation>基线：</translation>
    </message>
    <message>
        <source>Compared:</source>
        <translation>对比对象：</translation>
    </message>
    <message>
        <source>Difference in:</source>
        <translation>差异指标：</translation>
    </message>
    <message>
        <source>KV tokens per unit (sum over requests)</source>
        <translation>每个单元的 KV token（各请求求和）</translation>
    </message>
    <message>
        <source>attention mass retained per unit</source>
        <translation>每个单元保留的注意力质量</translation>
    </message>
    <message>
        <source>attention ms per rank</source>
        <translation>每个 rank 的注意力 ms</translation>
    </message>
    <message>
        <source>Hide |difference| below:</source>
        <translation>|差值| 低于此值时隐藏：</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>层</translation>
    </message>
    <message>
        <source>Select two or more runs to compare them.</source>
        <translation>请选择两个或更多运行进行对比。</translation>
    </message>
    <message>
        <source>Timing</source>
        <translation>计时</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>放置方案</translation>
    </message>
    <message>
        <source>Tokens/s</source>
        <translation>token/s</translation>
    </message>
    <message>
        <source>Speedup over the baseline</source>
        <translation>相对基线的加速比</translation>
    </message>
    <message>
        <source>Decode step (ms)</source>
        <translation>解码步（ms）</translation>
    </message>
    <message>
        <source>Attention imbalance (max / mean)</source>
        <translation>注意力不均衡（最大 / 平均）</translation>
    </message>
    <message>
        <source>Attention, sum of per-layer max (ms)</source>
        <translation>注意力，各层最大值之和（ms）</translation>
    </message>
    <message>
        <source>Lower bound (ms, modelled)</source>
        <translation>下界（ms，建模）</translation>
    </message>
    <message>
        <source>Rank %1 attention (ms, summed over layers)</source>
        <translation>rank %1 注意力（ms，各层求和）</translation>
    </message>
    <message>
        <source>Layer %1 slowest rank (ms)</source>
        <translation>层 %1 最慢 rank（ms）</translation>
    </message>
    <message>
        <source>These runs have different shapes (layers, units or ranks): no cell-by-cell difference.</source>
        <translation>这些运行的结构不同（层、单元或 rank）：无法逐单元格计算差异。</translation>
    </message>
    <message>
        <source>rank</source>
        <translation>rank</translation>
    </message>
    <message>
        <source>unit</source>
        <translation>单元</translation>
    </message>
    <message>
        <source>computed</source>
        <translation>计算</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>Rank 数</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>Compression (budget)</source>
        <translation>压缩（预算）</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <source>Prompt length, decode steps</source>
        <translation>提示长度，解码步数</translation>
    </message>
    <message>
        <source>%1, %2</source>
        <translation>%1，%2</translation>
    </message>
    <message>
        <source>Differs from the baseline in</source>
        <translation>与基线不同之处</translation>
    </message>
    <message>
        <source>difference (ms)</source>
        <translation>差值（毫秒）</translation>
    </message>
    <message>
        <source>difference (tokens)</source>
        <translation>差值（token）</translation>
    </message>
    <message>
        <source>difference (mass)</source>
        <translation>差值（注意力质量）</translation>
    </message>
    <message>
        <source>Colour: %1 minus the baseline; red: higher, blue: lower (%2). %3 of %4 cells hidden (equal, or below the threshold).</source>
        <translation>颜色：%1 减去基线；红色：更高，蓝色：更低（%2）。%4 个单元格中隐藏了 %3 个（相等或低于阈值）。</translation>
    </message>
    <message>
        <source>nothing: the same workload</source>
        <translation>无：相同的工作负载</translation>
    </message>
</context>
<context>
    <name>fairkv::views::GpuLoadView</name>
    <message>
        <source>Summed over layers</source>
        <translation>各层求和</translation>
    </message>
    <message>
        <source>Attention per layer</source>
        <translation>每层注意力</translation>
    </message>
    <message>
        <source>Show:</source>
        <translation>显示：</translation>
    </message>
    <message>
        <source>Run something or select runs in the list to see per-GPU load.</source>
        <translation>请运行一次，或在列表中选择运行，以查看每个 GPU 的负载。</translation>
    </message>
    <message>
        <source>%1: attention</source>
        <translation>%1：注意力</translation>
    </message>
    <message>
        <source>%1: MLP</source>
        <translation>%1：MLP</translation>
    </message>
    <message>
        <source>%1: collectives</source>
        <translation>%1：集合通信</translation>
    </message>
    <message>
        <source>rank %1</source>
        <translation>rank %1</translation>
    </message>
    <message>
        <source>%1, rank %2</source>
        <translation>%1，rank %2</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>层</translation>
    </message>
    <message>
        <source>; speedup over %1: %L2× (%3)</source>
        <translation>；相对 %1 的加速比：%L2×（%3）</translation>
    </message>
    <message>
        <source>%1: %L2 tokens/s (%3), decode step %L4 ms (%3), attention imbalance %L5 (%3), attention lower bound %L6 ms (modelled)</source>
        <translation>%1：%L2 token/s（%3），解码步 %L4 ms（%3），注意力不均衡 %L5（%3），注意力下界 %L6 ms（建模）</translation>
    </message>
    <message>
        <source>, within what the runs&apos; steps vary by (±%L1% in %2, ±%L3% in %4): it may be noise</source>
        <translation>，处于各步波动范围内（%2 为 ±%L1%，%4 为 ±%L3%）：可能只是噪声</translation>
    </message>
    <message>
        <source> (steps vary by ±%L1% in %2, ±%L3% in %4)</source>
        <translation>（步时波动：%2 为 ±%L1%，%4 为 ±%L3%）</translation>
    </message>
    <message>
        <source>; the mean rank waits %L1 ms per step for each layer&apos;s slowest attention (%2)</source>
        <translation>；平均每个 rank 每步等待各层最慢的注意力 %L1 ms（%2）</translation>
    </message>
    <message numerus="yes">
        <source>, %n unit copies</source>
        <translation>
            <numerusform>，%n 个单元副本</numerusform>
        </translation>
    </message>
    <message>
        <source>rank</source>
        <translation>rank</translation>
    </message>
    <message>
        <source>ms/step (%1)</source>
        <translation>毫秒/步（%1）</translation>
    </message>
    <message>
        <source>attention ms/step (%1)</source>
        <translation>注意力 毫秒/步（%1）</translation>
    </message>
    <message>
        <source>; unlike work: it differs from %1 in %2</source>
        <translation>；工作量不同：与 %1 的差异在于 %2</translation>
    </message>
    <message>
        <source>attention</source>
        <translation>注意力</translation>
    </message>
    <message>
        <source>MLP</source>
        <translation>MLP</translation>
    </message>
    <message>
        <source>collectives</source>
        <translation>集合通信</translation>
    </message>
    <message>
        <source>%1: no decode step timed (prefill only), so no per-rank times</source>
        <translation>%1：未计时任何解码步（仅预填充），因此没有各 rank 的时间</translation>
    </message>
</context>
<context>
    <name>fairkv::views::KernelStatsModel</name>
    <message>
        <source>Kernel / op</source>
        <translation>内核 / 算子</translation>
    </message>
    <message>
        <source>Count</source>
        <translation>次数</translation>
    </message>
    <message>
        <source>Total ms</source>
        <translation>总计 ms</translation>
    </message>
    <message>
        <source>Mean µs</source>
        <translation>平均 µs</translation>
    </message>
    <message>
        <source>Median µs</source>
        <translation>中位数 µs</translation>
    </message>
    <message>
        <source>prefill</source>
        <translation>预填充</translation>
    </message>
    <message>
        <source>decode</source>
        <translation>解码</translation>
    </message>
    <message>
        <source>Phase</source>
        <translation>阶段</translation>
    </message>
</context>
<context>
    <name>fairkv::views::KvHeatmapView</name>
    <message>
        <source>Retained KV tokens (mean over requests)</source>
        <translation>保留的 KV token（各请求平均）</translation>
    </message>
    <message>
        <source>Retained KV tokens (one request)</source>
        <translation>保留的 KV token（单个请求）</translation>
    </message>
    <message>
        <source>Share of the layer&apos;s KV</source>
        <translation>占该层 KV 的比例</translation>
    </message>
    <message>
        <source>Attention mass retained</source>
        <translation>保留的注意力质量</translation>
    </message>
    <message>
        <source>request </source>
        <translation>请求 </translation>
    </message>
    <message>
        <source>Log scale</source>
        <translation>对数刻度</translation>
    </message>
    <message>
        <source>Show placement</source>
        <translation>显示放置方案</translation>
    </message>
    <message>
        <source>Metric:</source>
        <translation>指标：</translation>
    </message>
    <message>
        <source>Click a cell to see the unit&apos;s details.</source>
        <translation>点击单元格以查看该单元的详细信息。</translation>
    </message>
    <message>
        <source>unit</source>
        <translation>单元</translation>
    </message>
    <message>
        <source>layer</source>
        <translation>层</translation>
    </message>
    <message>
        <source>retained KV tokens</source>
        <translation>保留的 KV token</translation>
    </message>
    <message>
        <source>share of the layer&apos;s KV (%)</source>
        <translation>占该层 KV 的比例（%）</translation>
    </message>
    <message>
        <source>attention mass retained</source>
        <translation>保留的注意力质量</translation>
    </message>
    <message>
        <source>r%1</source>
        <translation>r%1</translation>
    </message>
    <message>
        <source>layer %1, unit %2
rank %3
%4: %5</source>
        <translation>层 %1，单元 %2
rank %3
%4：%5</translation>
    </message>
    <message>
        <source> rank %1 serves requests %2;</source>
        <translation> rank %1 处理请求 %2；</translation>
    </message>
    <message>
        <source>Layer %1, unit %2 —%3 retained tokens per request: %4; attention mass retained: %5</source>
        <translation>层 %1，单元 %2 —%3 每个请求保留的 token：%4；保留的注意力质量：%5</translation>
    </message>
    <message>
        <source>The map shows one run: the last one selected in the run list</source>
        <translation>热力图显示一次运行：运行列表中最后选中的那次</translation>
    </message>
    <message numerus="yes">
        <source>mean %1, %2–%3 over %n request(s)</source>
        <translation>
            <numerusform>%n 个请求的均值 %1，范围 %2–%3</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 %</source>
        <translation>%1%</translation>
    </message>
    <message>
        <source>%L1 cells: too many for rank labels; hover a cell for its ranks</source>
        <translation>%L1 个单元格：太多，无法显示 rank 标签；将鼠标悬停在单元格上查看其 rank</translation>
    </message>
    <message>
        <source>×%1</source>
        <translation>×%1</translation>
    </message>
    <message numerus="yes">
        <source>%n cell(s) too small for their rank labels; hover a cell or enlarge the map</source>
        <translation>
            <numerusform>%n 个单元格太小，无法显示 rank 标签；将鼠标悬停在单元格上或放大热图</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>fairkv::views::MainWindow</name>
    <message>
        <source>Idle</source>
        <translation>空闲</translation>
    </message>
    <message>
        <source>Open session</source>
        <translation>打开会话</translation>
    </message>
    <message>
        <source>FairKV sessions (*.fkv)</source>
        <translation>FairKV 会话 (*.fkv)</translation>
    </message>
    <message>
        <source>The run failed: %1</source>
        <translation>运行失败：%1</translation>
    </message>
    <message>
        <source>Run failed</source>
        <translation>运行失败</translation>
    </message>
    <message>
        <source>Cancelled. The session is unchanged.</source>
        <translation>已取消。会话未更改。</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Select one run to inspect it, several to compare them side by side</source>
        <translation>选择一个运行以查看详情，选择多个以并排比较</translation>
    </message>
    <message>
        <source>GPU load</source>
        <translation>GPU 负载</translation>
    </message>
    <message>
        <source>Runs</source>
        <translation>运行列表</translation>
    </message>
    <message>
        <source>Timeline</source>
        <translation>时间线</translation>
    </message>
    <message>
        <source>Kernel statistics</source>
        <translation>内核统计</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;New Session</source>
        <translation>新建会话(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;Open Session…</source>
        <translation>打开会话(&amp;O)…</translation>
    </message>
    <message>
        <source>Save Session &amp;As…</source>
        <translation>会话另存为(&amp;A)…</translation>
    </message>
    <message>
        <source>Save session as</source>
        <translation>会话另存为</translation>
    </message>
    <message>
        <source>Open &amp;Recent</source>
        <translation>最近打开(&amp;R)</translation>
    </message>
    <message>
        <source>(none)</source>
        <translation>（无）</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>运行(&amp;R)</translation>
    </message>
    <message>
        <source>Run the &amp;Demo</source>
        <translation>运行演示(&amp;D)</translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation>取消(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Theme</source>
        <translation>主题(&amp;T)</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>&amp;About FairKV Studio</source>
        <translation>关于 FairKV Studio(&amp;A)</translation>
    </message>
    <message>
        <source>About FairKV Studio</source>
        <translation>关于 FairKV Studio</translation>
    </message>
    <message>
        <source>FairKV Studio %1 — a profiler for tensor-parallel decoding with compressed KV caches.</source>
        <translation>FairKV Studio %1 — 面向压缩 KV 缓存的张量并行解码性能分析器。</translation>
    </message>
    <message>
        <source>FairKV Studio — unsaved session</source>
        <translation>FairKV Studio — 未保存的会话</translation>
    </message>
    <message>
        <source>FairKV Studio — %1%2</source>
        <translation>FairKV Studio — %1%2</translation>
    </message>
    <message>
        <source> (read-only)</source>
        <translation>（只读）</translation>
    </message>
    <message>
        <source>Cannot create a session</source>
        <translation>无法创建会话</translation>
    </message>
    <message>
        <source>Cannot open the session</source>
        <translation>无法打开会话</translation>
    </message>
    <message numerus="yes">
        <source>Opened %1 (%n run(s))</source>
        <translation>
            <numerusform>已打开 %1（%n 个运行）</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot save the session</source>
        <translation>无法保存会话</translation>
    </message>
    <message>
        <source>Cannot run</source>
        <translation>无法运行</translation>
    </message>
    <message>
        <source>This session is read-only. Use File ▸ Save Session As to keep new runs.</source>
        <translation>此会话为只读。请使用“文件 ▸ 会话另存为”以保留新的运行。</translation>
    </message>
    <message numerus="yes">
        <source>Running %1 on %n rank(s)…</source>
        <translation>
            <numerusform>正在 %n 个 rank 上运行 %1…</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot save the run</source>
        <translation>无法保存运行</translation>
    </message>
    <message>
        <source>Run %1 finished</source>
        <translation>运行 %1 已完成</translation>
    </message>
    <message>
        <source>Cannot read the run</source>
        <translation>无法读取运行</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>对比</translation>
    </message>
    <message>
        <source>Placement editor</source>
        <translation>放置方案编辑器</translation>
    </message>
    <message>
        <source>&amp;Export Comparison Report…</source>
        <translation>导出对比报告(&amp;E)…</translation>
    </message>
    <message>
        <source>Export comparison report</source>
        <translation>导出对比报告</translation>
    </message>
    <message>
        <source>HTML (*.html);;PDF (*.pdf);;CSV table (*.csv);;JSON (*.json)</source>
        <translation>HTML (*.html);;PDF (*.pdf);;CSV 表格 (*.csv);;JSON (*.json)</translation>
    </message>
    <message>
        <source>Cannot re-run</source>
        <translation>无法重新运行</translation>
    </message>
    <message>
        <source>Re-running run %1 with the %2 placement…</source>
        <translation>正在使用放置方案“%2”重新执行运行 %1…</translation>
    </message>
    <message>
        <source>Finished: %L1 tokens/s (%2), saved as run %3.</source>
        <translation>已完成：%L1 token/s（%2），已保存为运行 %3。</translation>
    </message>
    <message>
        <source>Cannot export a report</source>
        <translation>无法导出报告</translation>
    </message>
    <message>
        <source>Select the runs to compare in the Runs list first.</source>
        <translation>请先在“运行列表”中选择要对比的运行。</translation>
    </message>
    <message>
        <source>Report written to %1</source>
        <translation>报告已写入 %1</translation>
    </message>
    <message>
        <source>Last run: backend %1, %2 ranks (%3)</source>
        <translation>上次运行：后端 %1，%2 个 rank（%3）</translation>
    </message>
    <message>
        <source>No session is open.</source>
        <translation>没有打开的会话。</translation>
    </message>
    <message>
        <source>Select a stored run to re-run.</source>
        <translation>请选择一个已保存的运行来重新运行。</translation>
    </message>
    <message>
        <source>Re-running run %1 with the %2 placement: its engine is not loaded, so its prompts are prefilled again…</source>
        <translation>正在以放置方案 %2 重新运行运行 %1：其引擎未加载，因此将重新预填充其提示…</translation>
    </message>
    <message>
        <source>Run %1: %2</source>
        <translation>运行 %1：%2</translation>
    </message>
    <message>
        <source>Records of the selected run in the timeline&apos;s selection (all of it when none is selected), timed as the run says: measured on the GPU by CUPTI, or on the host</source>
        <translation>所选运行在时间线选区内的记录（未选择时为全部），计时方式与该运行一致：GPU 上由 CUPTI 测量，或在主机上测量</translation>
    </message>
    <message>
        <source>New run</source>
        <translation>新运行</translation>
    </message>
    <message>
        <source>This machine: %1 CPU cores, %2</source>
        <translation>本机：%1 个 CPU 核心，%2</translation>
    </message>
    <message>
        <source>This machine: %1 CPU cores, no GPU; ranks run emulated on the CPU</source>
        <translation>本机：%1 个 CPU 核心，无 GPU；rank 在 CPU 上模拟运行</translation>
    </message>
    <message>
        <source>The session file %1 is gone (moved or deleted since it was opened): open it again, or use File ▸ Save Session As to keep new runs.</source>
        <translation>会话文件 %1 已不存在（打开后被移动或删除）：请重新打开它，或使用“文件 ▸ 会话另存为”以保留新的运行。</translation>
    </message>
    <message>
        <source>HeadKV needs its per-head scores: choose a head score file beside Compression.</source>
        <translation>HeadKV 需要每个头的评分：请在“压缩”旁选择一个头评分文件。</translation>
    </message>
</context>
<context>
    <name>fairkv::views::PlacementEditor</name>
    <message>
        <source>Re-run with this placement</source>
        <translation>使用此放置方案重新运行</translation>
    </message>
    <message>
        <source>Layer:</source>
        <translation>层：</translation>
    </message>
    <message>
        <source>The layer whose units are shown</source>
        <translation>显示其单元的层</translation>
    </message>
    <message>
        <source>Apply to all layers</source>
        <translation>应用到所有层</translation>
    </message>
    <message>
        <source>Every layer takes this layer&apos;s placement</source>
        <translation>所有层均采用此层的放置方案</translation>
    </message>
    <message>
        <source>Start from:</source>
        <translation>起点：</translation>
    </message>
    <message>
        <source>the run&apos;s placement</source>
        <translation>该运行的放置方案</translation>
    </message>
    <message>
        <source>uniform split</source>
        <translation>均匀划分（uniform）</translation>
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
        <translation>使用</translation>
    </message>
    <message>
        <source>Undo</source>
        <translation>撤销</translation>
    </message>
    <message>
        <source>Redo</source>
        <translation>重做</translation>
    </message>
    <message>
        <source>Load…</source>
        <translation>加载…</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>保存…</translation>
    </message>
    <message>
        <source>Load placement</source>
        <translation>加载放置方案</translation>
    </message>
    <message>
        <source>Placement JSON (*.json)</source>
        <translation>放置方案 JSON (*.json)</translation>
    </message>
    <message>
        <source>Save placement</source>
        <translation>保存放置方案</translation>
    </message>
    <message>
        <source>Run something or select a run to edit its placement.</source>
        <translation>请运行一次，或选择一个运行，以编辑其放置方案。</translation>
    </message>
    <message>
        <source>This run&apos;s placement cannot be edited: %1</source>
        <translation>无法编辑该运行的放置方案：%1</translation>
    </message>
    <message>
        <source>Refused: %1</source>
        <translation>已拒绝：%1</translation>
    </message>
    <message>
        <source>Move unit %1 to rank %2</source>
        <translation>将单元 %1 移至 rank %2</translation>
    </message>
    <message>
        <source>Replicate unit %1 on rank %2</source>
        <translation>在 rank %2 上复制单元 %1</translation>
    </message>
    <message>
        <source>Remove a replica of unit %1</source>
        <translation>移除单元 %1 的一个副本</translation>
    </message>
    <message>
        <source>Requests of unit %1</source>
        <translation>单元 %1 的请求</translation>
    </message>
    <message>
        <source>Layer %1 to all layers</source>
        <translation>将层 %1 应用到所有层</translation>
    </message>
    <message>
        <source>the planners need the run&apos;s cost model, and this run measured no decode step</source>
        <translation>规划器需要该运行的成本模型，而该运行未实测任何解码步</translation>
    </message>
    <message>
        <source>Start from %1</source>
        <translation>从 %1 开始</translation>
    </message>
    <message>
        <source>Load %1</source>
        <translation>加载 %1</translation>
    </message>
    <message>
        <source>Unit %1 · %L2 KV tokens
%3</source>
        <translation>单元 %1 · %L2 个 KV token
%3</translation>
    </message>
    <message>
        <source>all requests</source>
        <translation>所有请求</translation>
    </message>
    <message>
        <source>requests %1</source>
        <translation>请求 %1</translation>
    </message>
    <message>
        <source>Unit %1 has %2 replicas; this one serves requests %3</source>
        <translation>单元 %1 有 %2 个副本；此副本处理请求 %3</translation>
    </message>
    <message>
        <source>Drag to another rank to move; right-click for replicas</source>
        <translation>拖到其他 rank 以移动；右键单击可管理副本</translation>
    </message>
    <message>
        <source>
%L1 ms modelled</source>
        <translation>
%L1 ms（建模）</translation>
    </message>
    <message>
        <source>Layer %1: slowest rank %L2 ms, lower bound %L3 ms (gap %L4%). All layers: %L5 ms, bound %L6 ms (gap %L7%). Attention time modelled from the run&apos;s cost model.</source>
        <translation>层 %1：最慢 rank %L2 ms，下界 %L3 ms（差距 %L4%）。所有层：%L5 ms，下界 %L6 ms（差距 %L7%）。注意力时间由该运行的成本模型建模得出。</translation>
    </message>
    <message>
        <source>This run measured no decode step, so there is no cost model: loads are shown in KV tokens.</source>
        <translation>该运行未实测任何解码步，因此没有成本模型：负载以 KV token 数显示。</translation>
    </message>
    <message>
        <source>Valid placement: every unit&apos;s replicas serve each request exactly once.</source>
        <translation>放置方案有效：每个单元的副本对每个请求恰好处理一次。</translation>
    </message>
    <message>
        <source>Invalid: %1</source>
        <translation>无效：%1</translation>
    </message>
    <message>
        <source>Move shards and KV of the loaded run to this placement and decode its steps again</source>
        <translation>将已加载运行的分片和 KV 移至此放置方案，并重新解码其各步</translation>
    </message>
    <message>
        <source>Move to rank</source>
        <translation>移至 rank</translation>
    </message>
    <message>
        <source>Add replica on rank</source>
        <translation>在 rank 上添加副本</translation>
    </message>
    <message>
        <source>Rank %1</source>
        <translation>rank %1</translation>
    </message>
    <message>
        <source>Add replica</source>
        <translation>添加副本</translation>
    </message>
    <message>
        <source>Requests the new replica serves (e.g. 0, 2, 4-7):</source>
        <translation>新副本处理的请求（例如 0, 2, 4-7）：</translation>
    </message>
    <message>
        <source>Serve requests…</source>
        <translation>处理请求…</translation>
    </message>
    <message>
        <source>Serve requests</source>
        <translation>处理请求</translation>
    </message>
    <message>
        <source>Requests this replica serves (e.g. 0, 2, 4-7):</source>
        <translation>此副本处理的请求（例如 0, 2, 4-7）：</translation>
    </message>
    <message>
        <source>Remove this replica</source>
        <translation>移除此副本</translation>
    </message>
    <message>
        <source>&apos;%1&apos; is not a list of request numbers between 0 and %2</source>
        <translation>“%1”不是 0 到 %2 之间的请求编号列表</translation>
    </message>
    <message>
        <source>Edit all layers</source>
        <translation>编辑所有层</translation>
    </message>
    <message>
        <source>Apply every edit to all layers (replicas matched by rank)</source>
        <translation>将每次编辑应用到所有层（按 rank 匹配副本）</translation>
    </message>
    <message>
        <source>%1 (all layers)</source>
        <translation>%1（所有层）</translation>
    </message>
    <message>
        <source>This run&apos;s engine is not loaded: the re-run prefills its prompts again, then decodes its steps under this placement</source>
        <translation>此运行的引擎未加载：重新运行会先重新预填充其提示，再按此放置方案解码其各步</translation>
    </message>
    <message>
        <source>Its measured attention times barely grew with the retained KV (fitted per-token cost under 1% of a unit&apos;s fixed cost), so the model prices every unit alike and cannot tell these placements apart.</source>
        <translation>其实测注意力时间几乎不随保留的 KV 增长（拟合的每 token 成本不到单元固定成本的 1%），因此模型对每个单元的估价相同，无法区分这些放置。</translation>
    </message>
    <message numerus="yes">
        <source>Rank %1
%n unit(s), %L2 KV tokens (all requests)</source>
        <translation>
            <numerusform>rank %1
%n 个单元，%L2 个 KV token（全部请求）</numerusform>
        </translation>
    </message>
    <message>
        <source>Editing %1. %2</source>
        <translation>正在编辑 %1。%2</translation>
    </message>
    <message>
        <source>Replace the placement with the chosen one (one undo step)</source>
        <translation>用所选放置替换当前放置（一个撤销步骤）</translation>
    </message>
    <message>
        <source>Planning…</source>
        <translation>规划中…</translation>
    </message>
</context>
<context>
    <name>fairkv::views::RunPanel</name>
    <message>
        <source>A built-in shape (synthetic weights) or an HF checkpoint folder</source>
        <translation>内置模型结构（合成权重）或 HF 检查点文件夹</translation>
    </message>
    <message>
        <source>Folder…</source>
        <translation>文件夹…</translation>
    </message>
    <message>
        <source>Use only the first N layers (0: all)</source>
        <translation>仅使用前 N 层（0：全部）</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Tensor-parallel ranks</source>
        <translation>张量并行 rank 数</translation>
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
        <translation>CUDA（此构建未包含）</translation>
    </message>
    <message>
        <source>KV head with its query group (GQA)</source>
        <translation>KV 头及其查询组（GQA）</translation>
    </message>
    <message>
        <source>Query head (per-query-head)</source>
        <translation>查询头（per-query-head）</translation>
    </message>
    <message>
        <source>KV tokens kept per unit, observation window included</source>
        <translation>每个单元保留的 KV token 数，含观察窗口</translation>
    </message>
    <message>
        <source>Requests decoded together</source>
        <translation>一起解码的请求数</translation>
    </message>
    <message>
        <source>Prompt tokens per request (seeded random ids)</source>
        <translation>每个请求的提示 token 数（带种子的随机 ID）</translation>
    </message>
    <message>
        <source>Decode steps</source>
        <translation>解码步数</translation>
    </message>
    <message>
        <source>uniform (standard TP)</source>
        <translation>uniform（标准 TP）</translation>
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
        <translation>从文件…</translation>
    </message>
    <message>
        <source>Seed of weights, prompts and sampling</source>
        <translation>权重、提示与采样的随机种子</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>rank 数</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Units</source>
        <translation>单元</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>压缩</translation>
    </message>
    <message>
        <source>Budget</source>
        <translation>预算</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>Prompt length</source>
        <translation>提示长度</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>放置方案</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>种子</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Ready.</source>
        <translation>就绪。</translation>
    </message>
    <message>
        <source>Decoding step %1 of %2%3</source>
        <translation>正在解码第 %1 步，共 %2 步%3</translation>
    </message>
    <message>
        <source>%1…</source>
        <translation>%1…</translation>
    </message>
    <message>
        <source>HF checkpoint folder</source>
        <translation>HF 检查点文件夹</translation>
    </message>
    <message>
        <source>Placement file</source>
        <translation>放置方案文件</translation>
    </message>
    <message>
        <source>Placement JSON (*.json)</source>
        <translation>放置方案 JSON (*.json)</translation>
    </message>
    <message>
        <source>Loading the model…</source>
        <translation>正在加载模型…</translation>
    </message>
    <message>
        <source>Prefilling the prompts…</source>
        <translation>正在预填充提示…</translation>
    </message>
    <message>
        <source>Calibrating the cost model on one decode step…</source>
        <translation>正在用一个解码步校准成本模型…</translation>
    </message>
    <message>
        <source>Moving shards and KV to the new placement…</source>
        <translation>正在将分片和 KV 移至新的放置方案…</translation>
    </message>
    <message>
        <source>, about %L1 s left</source>
        <translation>，剩余约 %L1 s</translation>
    </message>
    <message>
        <source>HeadKV score file (JSON)</source>
        <translation>HeadKV 评分文件 (JSON)</translation>
    </message>
    <message>
        <source>Per-head importance scores: {&quot;scores&quot;: [[each unit&apos;s score], ...]} per layer, or the {&quot;layer-head&quot;: [...]} files of HeadKV&apos;s head detection</source>
        <translation>每个头的重要性评分：每层 {&quot;scores&quot;: [[每个单元的评分], ...]}，或 HeadKV 头检测生成的 {&quot;layer-head&quot;: [...]} 文件</translation>
    </message>
    <message>
        <source>File…</source>
        <translation>文件…</translation>
    </message>
    <message>
        <source>Head scores</source>
        <translation>头评分</translation>
    </message>
    <message>
        <source>Head score file</source>
        <translation>头评分文件</translation>
    </message>
    <message>
        <source>Head scores (*.json)</source>
        <translation>头评分 (*.json)</translation>
    </message>
</context>
<context>
    <name>fairkv::views::RunsModel</name>
    <message>
        <source>Decode throughput (%1)</source>
        <translation>解码吞吐量（%1）</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Parent</source>
        <translation>父运行</translation>
    </message>
    <message>
        <source>Label</source>
        <translation>标签</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Placement</source>
        <translation>放置方案</translation>
    </message>
    <message>
        <source>Compression</source>
        <translation>压缩</translation>
    </message>
    <message>
        <source>Budget</source>
        <translation>预算</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>批大小</translation>
    </message>
    <message>
        <source>Ranks</source>
        <translation>rank 数</translation>
    </message>
    <message>
        <source>Backend</source>
        <translation>后端</translation>
    </message>
    <message>
        <source>Tokens/s</source>
        <translation>token/s</translation>
    </message>
    <message>
        <source>Step ms</source>
        <translation>每步 ms</translation>
    </message>
    <message>
        <source>Imbalance</source>
        <translation>不均衡</translation>
    </message>
    <message>
        <source>Timing</source>
        <translation>计时</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>步数</translation>
    </message>
    <message>
        <source>settings and result damaged</source>
        <translation>设置和结果已损坏</translation>
    </message>
    <message>
        <source>settings damaged</source>
        <translation>设置已损坏</translation>
    </message>
    <message>
        <source>result damaged</source>
        <translation>结果已损坏</translation>
    </message>
    <message>
        <source>[%1] %2</source>
        <translation>[%1] %2</translation>
    </message>
    <message>
        <source>This run&apos;s stored record cannot be read (edited or corrupted outside FairKV Studio): %1</source>
        <translation>此运行的存储记录无法读取（在 FairKV Studio 之外被编辑或损坏）：%1</translation>
    </message>
</context>
<context>
    <name>fairkv::views::SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
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
        <translation>CUDA（此构建未包含）</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>系统语言</translation>
    </message>
    <message>
        <source>Default backend</source>
        <translation>默认后端</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>A new language takes effect at the next start.</source>
        <translation>新语言将在下次启动时生效。</translation>
    </message>
</context>
<context>
    <name>fairkv::views::StartPage</name>
    <message>
        <source>&lt;h2&gt;FairKV Studio&lt;/h2&gt;&lt;p&gt;Profile tensor-parallel decoding with compressed KV caches: how much KV each head keeps, how evenly the ranks are loaded, and what FairKV placements gain over the uniform split.&lt;/p&gt;</source>
        <translation>&lt;h2&gt;FairKV Studio&lt;/h2&gt;&lt;p&gt;分析压缩 KV 缓存下的张量并行解码：每个注意力头保留多少 KV，各 rank 的负载有多均衡，以及 FairKV 放置方案相比均匀划分（uniform）能带来多少收益。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>Run the demo</source>
        <translation>运行演示</translation>
    </message>
    <message>
        <source>tiny model, 4 ranks, Ada-SnapKV, on this machine&apos;s CPU</source>
        <translation>微型模型，4 个 rank，Ada-SnapKV，运行于本机 CPU</translation>
    </message>
    <message>
        <source>Open a session…</source>
        <translation>打开会话…</translation>
    </message>
    <message>
        <source>Recent sessions:</source>
        <translation>最近的会话：</translation>
    </message>
    <message>
        <source>%1 — %2</source>
        <translation>%1 — %2</translation>
    </message>
    <message>
        <source>(none yet)</source>
        <translation>（暂无）</translation>
    </message>
</context>
<context>
    <name>fairkv::views::TimelineView</name>
    <message>
        <source>No trace: run something or open a session.</source>
        <translation>无跟踪：请先运行，或打开一个会话。</translation>
    </message>
    <message>
        <source>rank %1</source>
        <translation>rank %1</translation>
    </message>
    <message>
        <source>all ranks</source>
        <translation>所有 rank</translation>
    </message>
    <message>
        <source>Wheel: zoom · drag: pan · Shift+drag: select a range · double-click: the whole run</source>
        <translation>滚轮：缩放 · 拖动：平移 · Shift+拖动：选择范围 · 双击：整个运行</translation>
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
        <translation>注意力</translation>
    </message>
    <message>
        <source>MLP</source>
        <translation>MLP</translation>
    </message>
    <message>
        <source>collective</source>
        <translation>集合通信</translation>
    </message>
    <message>
        <source>compression</source>
        <translation>压缩</translation>
    </message>
    <message>
        <source>replicated work</source>
        <translation>复制的工作</translation>
    </message>
    <message>
        <source>prefill, steps, other</source>
        <translation>预填充、步、其他</translation>
    </message>
    <message>
        <source>This run has no trace records (saved with --no-trace, or its records were left out as damaged).</source>
        <translation>此运行没有跟踪记录（以 --no-trace 保存，或其记录因损坏被略去）。</translation>
    </message>
</context>
<context>
    <name>main</name>
    <message>
        <source>Profiler for tensor-parallel decoding with compressed KV caches</source>
        <translation>面向压缩 KV 缓存的张量并行解码性能分析器</translation>
    </message>
    <message>
        <source>Run the CPU demo at start.</source>
        <translation>启动时运行 CPU 演示。</translation>
    </message>
    <message>
        <source>Run the demo, save screenshots of every view to &lt;dir&gt;, quit.</source>
        <translation>运行演示，将每个视图的截图保存到 &lt;dir&gt;，然后退出。</translation>
    </message>
    <message>
        <source>A session file (.fkv) to open.</source>
        <translation>要打开的会话文件（.fkv）。</translation>
    </message>
</context>
</TS>
