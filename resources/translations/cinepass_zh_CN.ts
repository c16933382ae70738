<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="zh_CN">
  <context>
    <name>Failure</name>
    <message>
      <source>Unexpected error ({0}): the details are in the log. Call IT support.</source>
      <translation>意外错误（{0}）：详情已记入日志。请联系技术支持。</translation>
    </message>
  </context>
  <context>
    <name>HeldView</name>
    <message>
      <source>The central server holds these redemptions of this counter: quarantined ones failed a check and are not paid; lines under review wait for the union office. They stay on this counter. Tell IT about quarantined records.</source>
      <translation>中央服务器暂扣了本柜台的这些核销：已隔离的未通过校验，不予结算；待审核的等待工会办公室决定。记录保留在本柜台。如有已隔离的记录，请告知 IT。</translation>
    </message>
    <message>
      <source>Voucher</source>
      <translation>券码</translation>
    </message>
    <message>
      <source>Time</source>
      <translation>时间</translation>
    </message>
    <message>
      <source>Staff</source>
      <translation>售票员</translation>
    </message>
    <message>
      <source>Format</source>
      <translation>格式</translation>
    </message>
    <message>
      <source>Status</source>
      <translation>状态</translation>
    </message>
    <message>
      <source>Why</source>
      <translation>原因</translation>
    </message>
    <message>
      <source>Quarantined (not paid)</source>
      <translation>已隔离（不结算）</translation>
    </message>
    <message>
      <source>Under review by the union office</source>
      <translation>工会办公室审核中</translation>
    </message>
    <message>
      <source>voucher not valid at this cinema</source>
      <translation>此券不适用于本影院</translation>
    </message>
    <message>
      <source>record names another cinema</source>
      <translation>记录的影院与本柜台不符</translation>
    </message>
    <message>
      <source>format not on the voucher</source>
      <translation>此券不含该影片格式</translation>
    </message>
    <message>
      <source>outside the voucher's validity</source>
      <translation>核销时间不在有效期内</translation>
    </message>
    <message>
      <source>time in the future</source>
      <translation>核销时间在未来</translation>
    </message>
    <message>
      <source>time before this counter was enrolled</source>
      <translation>核销时间早于本柜台登记</translation>
    </message>
    <message>
      <source>time before this counter's previous record</source>
      <translation>核销时间早于本柜台上一条记录</translation>
    </message>
    <message>
      <source>redeemed after the voucher was frozen</source>
      <translation>券冻结后仍被核销</translation>
    </message>
    <message>
      <source>disputed with a redemption elsewhere</source>
      <translation>与其他柜台的核销有争议</translation>
    </message>
    <message>
      <source>records missing from this counter's chain</source>
      <translation>本柜台的记录链有缺失</translation>
    </message>
    <message>
      <source>record chain forked (a copied counter?)</source>
      <translation>记录链分叉（柜台可能被复制）</translation>
    </message>
    <message>
      <source>this counter's clock was off</source>
      <translation>本柜台时钟偏差过大</translation>
    </message>
    <message>
      <source>not signed by this counter's key</source>
      <translation>不是本柜台密钥签名的记录</translation>
    </message>
    <message>
      <source>malformed record</source>
      <translation>记录格式错误</translation>
    </message>
    <message>
      <source>record of another counter</source>
      <translation>其他柜台的记录</translation>
    </message>
    <message>
      <source>issuer unknown to the union office</source>
      <translation>工会办公室不认识此签发机构</translation>
    </message>
    <message>
      <source>forged or altered voucher</source>
      <translation>伪造或被篡改的券</translation>
    </message>
    <message>
      <source>record does not match its voucher</source>
      <translation>记录与券不符</translation>
    </message>
    <message>
      <source>; </source>
      <translation>；</translation>
    </message>
  </context>
  <context>
    <name>MainWindow</name>
    <message>
      <source>This counter cannot start:</source>
      <translation>本柜台无法启动：</translation>
    </message>
    <message>
      <source>Call the manager or IT support.</source>
      <translation>请联系经理或技术支持。</translation>
    </message>
    <message>
      <source>The void could not be recorded.</source>
      <translation>撤销未能记录。</translation>
    </message>
  </context>
  <context>
    <name>ManagerFlow</name>
    <message>
      <source>Too many wrong PINs: wait a minute.</source>
      <translation>PIN 错误次数过多，请等待一分钟。</translation>
    </message>
    <message>
      <source>Wrong PIN.</source>
      <translation>PIN 错误。</translation>
    </message>
    <message>
      <source>The two PINs differ.</source>
      <translation>两次输入的 PIN 不一致。</translation>
    </message>
    <message>
      <source>A PIN is 4 to 12 digits.</source>
      <translation>PIN 为 4 到 12 位数字。</translation>
    </message>
    <message>
      <source>Saved: {0}</source>
      <translation>已保存：{0}</translation>
    </message>
    <message>
      <source>Not saved: {0}</source>
      <translation>未保存：{0}</translation>
    </message>
    <message>
      <source>Settings saved.</source>
      <translation>设置已保存。</translation>
    </message>
    <message>
      <source>PIN changed.</source>
      <translation>PIN 已更改。</translation>
    </message>
    <message>
      <source>Sync started...</source>
      <translation>正在同步…</translation>
    </message>
  </context>
  <context>
    <name>ManagerView</name>
    <message>
      <source>Manager view</source>
      <translation>经理视图</translation>
    </message>
    <message>
      <source>Back to scanning</source>
      <translation>返回扫码</translation>
    </message>
    <message>
      <source>Close the program</source>
      <translation>关闭程序</translation>
    </message>
    <message>
      <source>Tally</source>
      <translation>统计</translation>
    </message>
    <message>
      <source>Duplicates</source>
      <translation>重复核销</translation>
    </message>
    <message>
      <source>Held by the server</source>
      <translation>服务器暂扣</translation>
    </message>
    <message>
      <source>Settings</source>
      <translation>设置</translation>
    </message>
    <message>
      <source>Today</source>
      <translation>今天</translation>
    </message>
    <message>
      <source>Day:</source>
      <translation>日期：</translation>
    </message>
    <message>
      <source>Accepted</source>
      <translation>核销成功</translation>
    </message>
    <message>
      <source>Rejected</source>
      <translation>拒绝</translation>
    </message>
    <message>
      <source>Voided</source>
      <translation>已撤销</translation>
    </message>
    <message>
      <source>Unsynced</source>
      <translation>未同步</translation>
    </message>
    <message>
      <source>Synced</source>
      <translation>已同步</translation>
    </message>
    <message>
      <source>Admissions by hour</source>
      <translation>每小时核销数</translation>
    </message>
    <message>
      <source>Staff</source>
      <translation>员工</translation>
    </message>
    <message>
      <source>Counter</source>
      <translation>柜台</translation>
    </message>
    <message>
      <source>Reason</source>
      <translation>原因</translation>
    </message>
    <message>
      <source>Count</source>
      <translation>数量</translation>
    </message>
    <message>
      <source>Export CSV</source>
      <translation>导出 CSV</translation>
    </message>
    <message>
      <source>Export XLSX</source>
      <translation>导出 XLSX</translation>
    </message>
    <message>
      <source>Print daily report (PDF)</source>
      <translation>打印日报 (PDF)</translation>
    </message>
    <message>
      <source>From</source>
      <translation>从</translation>
    </message>
    <message>
      <source>to</source>
      <translation>至</translation>
    </message>
    <message>
      <source>Folder:</source>
      <translation>文件夹：</translation>
    </message>
    <message>
      <source>(not signed in)</source>
      <translation>（未登录）</translation>
    </message>
    <message>
      <source>Voucher</source>
      <translation>观影券</translation>
    </message>
    <message>
      <source>Here: time</source>
      <translation>本机：时间</translation>
    </message>
    <message>
      <source>Here: staff</source>
      <translation>本机：员工</translation>
    </message>
    <message>
      <source>Other: cinema / counter</source>
      <translation>另一处：影院 / 柜台</translation>
    </message>
    <message>
      <source>Other: time</source>
      <translation>另一处：时间</translation>
    </message>
    <message>
      <source>Other: staff</source>
      <translation>另一处：员工</translation>
    </message>
    <message>
      <source>The central server found these vouchers used at this counter and elsewhere. The earlier use is the valid one.</source>
      <translation>中央服务器发现以下观影券在本柜台和其他地方都被使用过。以较早的一次为有效。</translation>
    </message>
    <message>
      <source>Duplicates ({0})</source>
      <translation>重复核销 ({0})</translation>
    </message>
    <message>
      <source>Held by the server ({0})</source>
      <translation>服务器暂扣（{0}）</translation>
    </message>
    <message>
      <source>Camera number (0, 1...) or a video/image file</source>
      <translation>摄像头编号（0、1……）或视频/图片文件</translation>
    </message>
    <message>
      <source>Play a sound for each verdict</source>
      <translation>每次核验播放提示音</translation>
    </message>
    <message>
      <source> s (0 = until the next scan)</source>
      <translation> 秒（0 = 直到下一次扫码）</translation>
    </message>
    <message>
      <source>One name per line</source>
      <translation>每行一个姓名</translation>
    </message>
    <message>
      <source>Kiosk mode (full screen, leaving needs the PIN)</source>
      <translation>自助终端模式（全屏，退出需要 PIN）</translation>
    </message>
    <message>
      <source>Save settings</source>
      <translation>保存设置</translation>
    </message>
    <message>
      <source>Camera:</source>
      <translation>摄像头：</translation>
    </message>
    <message>
      <source>Language:</source>
      <translation>语言：</translation>
    </message>
    <message>
      <source>Sound:</source>
      <translation>声音：</translation>
    </message>
    <message>
      <source>Verdict stays:</source>
      <translation>结果显示时长：</translation>
    </message>
    <message>
      <source>Staff names:</source>
      <translation>员工姓名：</translation>
    </message>
    <message>
      <source>Central server</source>
      <translation>中央服务器</translation>
    </message>
    <message>
      <source>Sync now</source>
      <translation>立即同步</translation>
    </message>
    <message>
      <source>Change PIN</source>
      <translation>更改 PIN</translation>
    </message>
    <message>
      <source>New PIN</source>
      <translation>新 PIN</translation>
    </message>
    <message>
      <source>Repeat the new PIN</source>
      <translation>再次输入新 PIN</translation>
    </message>
    <message>
      <source>Server: {0}</source>
      <translation>服务器：{0}</translation>
    </message>
    <message>
      <source>Standalone counter (no central server)</source>
      <translation>单机柜台（无中央服务器）</translation>
    </message>
  </context>
  <context>
    <name>PinGate</name>
    <message>
      <source>Repeat the new PIN</source>
      <translation>再次输入新 PIN</translation>
    </message>
    <message>
      <source>Open manager view</source>
      <translation>进入经理视图</translation>
    </message>
    <message>
      <source>Back to scanning</source>
      <translation>返回扫码</translation>
    </message>
    <message>
      <source>Choose a manager PIN (4 to 12 digits)</source>
      <translation>请设置经理 PIN（4 到 12 位数字）</translation>
    </message>
    <message>
      <source>New PIN</source>
      <translation>新 PIN</translation>
    </message>
    <message>
      <source>Manager PIN</source>
      <translation>经理 PIN</translation>
    </message>
    <message>
      <source>PIN</source>
      <translation>PIN</translation>
    </message>
  </context>
  <context>
    <name>PreviewWidget</name>
    <message>
      <source>Camera not available: use the scanner or type the code</source>
      <translation>摄像头不可用：请使用扫码枪或输入券码</translation>
    </message>
    <message>
      <source>Camera lost: reconnecting...</source>
      <translation>摄像头断开：正在重连…</translation>
    </message>
    <message>
      <source>Starting camera...</source>
      <translation>正在启动摄像头…</translation>
    </message>
    <message>
      <source>No camera configured: use the scanner or type the code</source>
      <translation>未配置摄像头：请使用扫码枪或输入券码</translation>
    </message>
  </context>
  <context>
    <name>ScanScreen</name>
    <message>
      <source>Next admission:</source>
      <translation>本次入场：</translation>
    </message>
    <message>
      <source>Manager</source>
      <translation>经理</translation>
    </message>
    <message>
      <source>Staff:</source>
      <translation>员工：</translation>
    </message>
    <message>
      <source>Type the short code, e.g. ABCD-EFGH-JKMN-PQRS</source>
      <translation>输入券码，例如 ABCD-EFGH-JKMN-PQRS</translation>
    </message>
    <message>
      <source>Check code</source>
      <translation>核验券码</translation>
    </message>
    <message>
      <source>Undo last</source>
      <translation>撤销上一张</translation>
    </message>
    <message>
      <source>Yes, void it</source>
      <translation>确认撤销</translation>
    </message>
    <message>
      <source>Cancel</source>
      <translation>取消</translation>
    </message>
    <message>
      <source>(nobody signed in)</source>
      <translation>（未登录）</translation>
    </message>
    <message>
      <source>Void the last admission? The guest must not go in on it.</source>
      <translation>撤销上一次核销？该观众不能凭此券入场。</translation>
    </message>
  </context>
  <context>
    <name>SetupWizard</name>
    <message>
      <source>Set up this counter</source>
      <translation>设置本柜台</translation>
    </message>
    <message>
      <source>This computer is not set up as a CinePass counter yet. Enter the enrolment code from the union office, or set it up as a standalone counter.</source>
      <translation>这台电脑尚未设置为 CinePass 柜台。请输入工会办公室提供的注册码，或设置为单机柜台。</translation>
    </message>
    <message>
      <source>Data folder: {0}</source>
      <translation>数据文件夹：{0}</translation>
    </message>
    <message>
      <source>Connect to the central server (recommended)</source>
      <translation>连接中央服务器（推荐）</translation>
    </message>
    <message>
      <source>Standalone counter (no server)</source>
      <translation>单机柜台（无服务器）</translation>
    </message>
    <message>
      <source>Central server</source>
      <translation>中央服务器</translation>
    </message>
    <message>
      <source>One-time code from the union office</source>
      <translation>工会办公室提供的一次性注册码</translation>
    </message>
    <message>
      <source>Server address:</source>
      <translation>服务器地址：</translation>
    </message>
    <message>
      <source>Enrolment code:</source>
      <translation>注册码：</translation>
    </message>
    <message>
      <source>Standalone counter</source>
      <translation>单机柜台</translation>
    </message>
    <message>
      <source>e.g. SH-001</source>
      <translation>例如 SH-001</translation>
    </message>
    <message>
      <source>Path of the issuer's public key (.pem)</source>
      <translation>签发机构公钥文件路径 (.pem)</translation>
    </message>
    <message>
      <source>Cinema code:</source>
      <translation>影院代码：</translation>
    </message>
    <message>
      <source>Issuer key file:</source>
      <translation>签发机构公钥：</translation>
    </message>
    <message>
      <source>e.g. Window 1</source>
      <translation>例如 1号窗口</translation>
    </message>
    <message>
      <source>Name of this counter:</source>
      <translation>本柜台名称：</translation>
    </message>
    <message>
      <source>Set up</source>
      <translation>开始设置</translation>
    </message>
    <message>
      <source>Enter the server address and the enrolment code.</source>
      <translation>请输入服务器地址和注册码。</translation>
    </message>
    <message>
      <source>Enter the cinema code and the issuer key file.</source>
      <translation>请输入影院代码和签发机构公钥文件。</translation>
    </message>
    <message>
      <source>Setting up...</source>
      <translation>正在设置…</translation>
    </message>
    <message>
      <source>The enrolment code is wrong: check it or ask for a new one.</source>
      <translation>注册码错误：请核对，或向工会办公室申请新的注册码。</translation>
    </message>
    <message>
      <source>This enrolment code was already used: ask for a new one.</source>
      <translation>此注册码已被使用：请申请新的注册码。</translation>
    </message>
    <message>
      <source>This enrolment code has expired: ask for a new one.</source>
      <translation>此注册码已过期：请申请新的注册码。</translation>
    </message>
    <message>
      <source>Too many wrong codes: wait 15 minutes, then retry.</source>
      <translation>错误次数过多：请等待 15 分钟后重试。</translation>
    </message>
    <message>
      <source>The server cannot be reached: check the network.</source>
      <translation>无法连接服务器：请检查网络。</translation>
    </message>
    <message>
      <source>The server did not answer in time: try again.</source>
      <translation>服务器响应超时：请重试。</translation>
    </message>
    <message>
      <source>The server address is not valid (https://...).</source>
      <translation>服务器地址无效（应为 https://...）。</translation>
    </message>
    <message>
      <source>Plain http:// is refused for this server: use https://.</source>
      <translation>此服务器不允许使用 http://：请使用 https://。</translation>
    </message>
    <message>
      <source>The server's certificate has expired: call IT.</source>
      <translation>服务器证书已过期：请联系技术支持。</translation>
    </message>
    <message>
      <source>The server's certificate is for another name: call IT.</source>
      <translation>服务器证书与地址不符：请联系技术支持。</translation>
    </message>
    <message>
      <source>The server's certificate is not trusted: call IT.</source>
      <translation>服务器证书不受信任：请联系技术支持。</translation>
    </message>
    <message>
      <source>The issuer key file cannot be read: check the path.</source>
      <translation>无法读取签发机构公钥文件：请检查路径。</translation>
    </message>
    <message>
      <source>That file is not the issuer's public key (.pem).</source>
      <translation>该文件不是签发机构公钥 (.pem)。</translation>
    </message>
    <message>
      <source>The cinema code is not valid.</source>
      <translation>影院代码无效。</translation>
    </message>
    <message>
      <source>This data folder is already set up.</source>
      <translation>此数据文件夹已设置过。</translation>
    </message>
  </context>
  <context>
    <name>StatusBar</name>
    <message>
      <source>Standalone</source>
      <translation>单机模式</translation>
    </message>
    <message>
      <source>Counter revoked by the server</source>
      <translation>本柜台已被服务器停用</translation>
    </message>
    <message>
      <source>Online</source>
      <translation>在线</translation>
    </message>
    <message>
      <source>Offline</source>
      <translation>离线</translation>
    </message>
    <message>
      <source>Unsynced: {0}</source>
      <translation>未同步：{0}</translation>
    </message>
    <message>
      <source>Last sync: {0}</source>
      <translation>上次同步：{0}</translation>
    </message>
    <message>
      <source>never</source>
      <translation>从未</translation>
    </message>
    <message>
      <source>Clock OK</source>
      <translation>时钟正常</translation>
    </message>
    <message>
      <source>Clock is behind!</source>
      <translation>时钟落后！</translation>
    </message>
    <message>
      <source>Camera OK</source>
      <translation>摄像头正常</translation>
    </message>
    <message>
      <source>Camera lost</source>
      <translation>摄像头断开</translation>
    </message>
    <message>
      <source>Camera reconnecting</source>
      <translation>摄像头重连中</translation>
    </message>
    <message>
      <source>Camera stopped</source>
      <translation>摄像头已停止</translation>
    </message>
    <message>
      <source>Camera starting</source>
      <translation>摄像头启动中</translation>
    </message>
    <message>
      <source>No camera</source>
      <translation>无摄像头</translation>
    </message>
    <message>
      <source>Counter: {0}</source>
      <translation>柜台：{0}</translation>
    </message>
    <message>
      <source>Staff: {0}</source>
      <translation>员工：{0}</translation>
    </message>
    <message>
      <source>nobody signed in</source>
      <translation>未登录</translation>
    </message>
    <message>
      <source>Revocation list: local</source>
      <translation>冻结名单：本地</translation>
    </message>
    <message>
      <source>Revocation list: never updated</source>
      <translation>冻结名单：从未更新</translation>
    </message>
    <message>
      <source>Revocation list: {0} min old</source>
      <translation>冻结名单：{0} 分钟前</translation>
    </message>
    <message>
      <source>Revocation list: {0:.1f} h old</source>
      <translation>冻结名单：{0:.1f} 小时前</translation>
    </message>
    <message>
      <source>No server: export the tally to settle.</source>
      <translation>无中央服务器：请导出统计用于结算。</translation>
    </message>
    <message>
      <source>Last error: {0}</source>
      <translation>最近错误：{0}</translation>
    </message>
  </context>
  <context>
    <name>VerdictPanel</name>
    <message>
      <source>READY</source>
      <translation>就绪</translation>
    </message>
    <message>
      <source>Scan a voucher</source>
      <translation>请扫描观影券</translation>
    </message>
    <message>
      <source>Hold the QR code up to the camera, use the scanner, or type the short code.</source>
      <translation>将二维码对准摄像头，或使用扫码枪，或输入券码。</translation>
    </message>
    <message>
      <source>F2 = 2D    F3 = 3D</source>
      <translation>F2 = 2D    F3 = 3D</translation>
    </message>
  </context>
  <context>
    <name>VerdictText</name>
    <message>
      <source>lost</source>
      <translation>遗失</translation>
    </message>
    <message>
      <source>stolen</source>
      <translation>被盗</translation>
    </message>
    <message>
      <source>fraud</source>
      <translation>欺诈</translation>
    </message>
    <message>
      <source>replaced by a new voucher</source>
      <translation>已补发新券</translation>
    </message>
    <message>
      <source>frozen</source>
      <translation>已冻结</translation>
    </message>
    <message>
      <source>ADMIT</source>
      <translation>放行</translation>
    </message>
    <message>
      <source>Holder: {0}</source>
      <translation>持券人：{0}</translation>
    </message>
    <message>
      <source>(no name)</source>
      <translation>（无姓名）</translation>
    </message>
    <message>
      <source>Format: {0}</source>
      <translation>格式：{0}</translation>
    </message>
    <message>
      <source>Code: {0}</source>
      <translation>券码：{0}</translation>
    </message>
    <message>
      <source>Admission {0} of {1}</source>
      <translation>第 {0} 次入场，共 {1} 次</translation>
    </message>
    <message>
      <source>USED</source>
      <translation>已使用</translation>
    </message>
    <message>
      <source>Used at: {0}</source>
      <translation>使用时间：{0}</translation>
    </message>
    <message>
      <source>this counter</source>
      <translation>本柜台</translation>
    </message>
    <message>
      <source>another counter</source>
      <translation>其他柜台</translation>
    </message>
    <message>
      <source>Counter: {0}</source>
      <translation>柜台：{0}</translation>
    </message>
    <message>
      <source>By: {0}</source>
      <translation>操作员工：{0}</translation>
    </message>
    <message>
      <source>(not signed in)</source>
      <translation>（未登录）</translation>
    </message>
    <message>
      <source>STOP</source>
      <translation>禁止入场</translation>
    </message>
    <message>
      <source>Reason: {0}</source>
      <translation>原因：{0}</translation>
    </message>
    <message>
      <source>Valid until: {0}</source>
      <translation>有效期至：{0}</translation>
    </message>
    <message>
      <source>Chosen: {0}   Voucher allows: {1}</source>
      <translation>已选：{0}   此券可用：{1}</translation>
    </message>
    <message>
      <source>Warning: this counter's clock is behind; tell the manager.</source>
      <translation>警告：本机时钟落后，请告知经理。</translation>
    </message>
  </context>
  <context>
    <name>Verdict</name>
    <message>
      <source>Accepted</source>
      <comment>accepted</comment>
      <translation>核销成功</translation>
    </message>
    <message>
      <source>Admit the guest.</source>
      <comment>accepted.next</comment>
      <translation>请放行观众。</translation>
    </message>
    <message>
      <source>Already used</source>
      <comment>already_redeemed</comment>
      <translation>此券已使用</translation>
    </message>
    <message>
      <source>Do not admit; ask the manager to check the earlier use.</source>
      <comment>already_redeemed.next</comment>
      <translation>请勿放行；如观众有疑问，请联系经理核查使用记录。</translation>
    </message>
    <message>
      <source>Voucher frozen</source>
      <comment>revoked</comment>
      <translation>此券已冻结</translation>
    </message>
    <message>
      <source>Do not admit; the member should contact the union office.</source>
      <comment>revoked.next</comment>
      <translation>请勿放行；请观众联系工会办公室。</translation>
    </message>
    <message>
      <source>Reserved online</source>
      <comment>held</comment>
      <translation>此券已被线上预订</translation>
    </message>
    <message>
      <source>Do not admit; an online order holds it. Ask the manager.</source>
      <comment>held.next</comment>
      <translation>请勿放行；此券正被线上订单占用，如有疑问请联系经理。</translation>
    </message>
    <message>
      <source>Voucher expired</source>
      <comment>expired</comment>
      <translation>此券已过期</translation>
    </message>
    <message>
      <source>Do not admit; the member should contact the union office.</source>
      <comment>expired.next</comment>
      <translation>请勿放行；请观众联系工会办公室。</translation>
    </message>
    <message>
      <source>Not yet valid</source>
      <comment>not_yet_valid</comment>
      <translation>此券尚未生效</translation>
    </message>
    <message>
      <source>Do not admit; check this counter's date and time.</source>
      <comment>not_yet_valid.next</comment>
      <translation>请勿放行；请核对柜台电脑的日期时间。</translation>
    </message>
    <message>
      <source>Not valid at this cinema</source>
      <comment>wrong_cinema</comment>
      <translation>此券不适用于本影院</translation>
    </message>
    <message>
      <source>Do not admit; tell the guest where it can be used.</source>
      <comment>wrong_cinema.next</comment>
      <translation>请勿放行；请告知观众可用的影院。</translation>
    </message>
    <message>
      <source>Not valid for this format</source>
      <comment>wrong_format</comment>
      <translation>此券不适用于所选影片格式</translation>
    </message>
    <message>
      <source>Switch 2D/3D and scan again, or choose another show.</source>
      <comment>wrong_format.next</comment>
      <translation>请切换 2D/3D 后重新扫码，或请观众选择其他场次。</translation>
    </message>
    <message>
      <source>Forged or altered voucher</source>
      <comment>bad_signature</comment>
      <translation>伪造或被篡改的券</translation>
    </message>
    <message>
      <source>Do not admit; call the manager.</source>
      <comment>bad_signature.next</comment>
      <translation>请勿放行；请通知经理。</translation>
    </message>
    <message>
      <source>Unknown issuer</source>
      <comment>unknown_key</comment>
      <translation>签发机构未知</translation>
    </message>
    <message>
      <source>Do not admit; sync this counter and retry, else call the manager.</source>
      <comment>unknown_key.next</comment>
      <translation>请勿放行；请同步本机后重试，仍失败请通知经理。</translation>
    </message>
    <message>
      <source>Unknown code</source>
      <comment>unknown_code</comment>
      <translation>券码不存在</translation>
    </message>
    <message>
      <source>Check the code and type it again, or scan the QR code.</source>
      <comment>unknown_code.next</comment>
      <translation>请核对券码后重新输入，或扫描二维码。</translation>
    </message>
    <message>
      <source>Damaged code</source>
      <comment>malformed</comment>
      <translation>二维码已损坏</translation>
    </message>
    <message>
      <source>Scan again; if it still fails, type the short code.</source>
      <comment>malformed.next</comment>
      <translation>请重新扫描；仍失败请手动输入券码。</translation>
    </message>
    <message>
      <source>Not a voucher</source>
      <comment>not_a_voucher</comment>
      <translation>不是观影券</translation>
    </message>
    <message>
      <source>Scan the QR code on the movie voucher.</source>
      <comment>not_a_voucher.next</comment>
      <translation>请扫描观影券上的二维码。</translation>
    </message>
    <message>
      <source>Not recorded: do not admit</source>
      <comment>not_recorded</comment>
      <translation>未能记录，请勿放行</translation>
    </message>
    <message>
      <source>This counter cannot save; retry, else call the manager.</source>
      <comment>not_recorded.next</comment>
      <translation>本机存储故障，请重试；仍失败请通知经理。</translation>
    </message>
    <message>
      <source>This counter was disconnected by the union office</source>
      <comment>device_revoked</comment>
      <translation>本柜台已被停用，请联系 IT</translation>
    </message>
    <message>
      <source>Do not admit; IT must enrol this counter again before it can redeem.</source>
      <comment>device_revoked.next</comment>
      <translation>请勿放行；请 IT 重新登记本柜台后再核销。</translation>
    </message>
    <message>
      <source>The computer's clock is wrong, call IT</source>
      <comment>clock_behind</comment>
      <translation>电脑时间不正确，请联系 IT</translation>
    </message>
    <message>
      <source>Do not admit; IT must correct this PC's date and time, then sync once.</source>
      <comment>clock_behind.next</comment>
      <translation>请勿放行；请 IT 校正本机日期时间，再同步一次。</translation>
    </message>
  </context>
  <context>
    <name>Void</name>
    <message>
      <source>Redemption voided</source>
      <comment>voided</comment>
      <translation>已撤销上一次核销</translation>
    </message>
    <message>
      <source>Too late: voids are allowed for 10 minutes</source>
      <comment>too_late</comment>
      <translation>超过10分钟，不能撤销</translation>
    </message>
    <message>
      <source>Nothing to void</source>
      <comment>nothing_to_void</comment>
      <translation>没有可撤销的核销</translation>
    </message>
    <message>
      <source>Already voided</source>
      <comment>already_voided</comment>
      <translation>此核销已撤销</translation>
    </message>
    <message>
      <source>Void not recorded: storage failed</source>
      <comment>not_recorded</comment>
      <translation>未能记录撤销</translation>
    </message>
  </context>
</TS>