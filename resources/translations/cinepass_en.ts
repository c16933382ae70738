<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="en">
  <context>
    <name>Failure</name>
    <message>
      <source>Unexpected error ({0}): the details are in the log. Call IT support.</source>
      <translation>Unexpected error ({0}): the details are in the log. Call IT support.</translation>
    </message>
  </context>
  <context>
    <name>HeldView</name>
    <message>
      <source>The central server holds these redemptions of this counter: quarantined ones failed a check and are not paid; lines under review wait for the union office. They stay on this counter. Tell IT about quarantined records.</source>
      <translation>The central server holds these redemptions of this counter: quarantined ones failed a check and are not paid; lines under review wait for the union office. They stay on this counter. Tell IT about quarantined records.</translation>
    </message>
    <message>
      <source>Voucher</source>
      <translation>Voucher</translation>
    </message>
    <message>
      <source>Time</source>
      <translation>Time</translation>
    </message>
    <message>
      <source>Staff</source>
      <translation>Staff</translation>
    </message>
    <message>
      <source>Format</source>
      <translation>Format</translation>
    </message>
    <message>
      <source>Status</source>
      <translation>Status</translation>
    </message>
    <message>
      <source>Why</source>
      <translation>Why</translation>
    </message>
    <message>
      <source>Quarantined (not paid)</source>
      <translation>Quarantined (not paid)</translation>
    </message>
    <message>
      <source>Under review by the union office</source>
      <translation>Under review by the union office</translation>
    </message>
    <message>
      <source>voucher not valid at this cinema</source>
      <translation>voucher not valid at this cinema</translation>
    </message>
    <message>
      <source>record names another cinema</source>
      <translation>record names another cinema</translation>
    </message>
    <message>
      <source>format not on the voucher</source>
      <translation>format not on the voucher</translation>
    </message>
    <message>
      <source>outside the voucher's validity</source>
      <translation>outside the voucher's validity</translation>
    </message>
    <message>
      <source>time in the future</source>
      <translation>time in the future</translation>
    </message>
    <message>
      <source>time before this counter was enrolled</source>
      <translation>time before this counter was enrolled</translation>
    </message>
    <message>
      <source>time before this counter's previous record</source>
      <translation>time before this counter's previous record</translation>
    </message>
    <message>
      <source>redeemed after the voucher was frozen</source>
      <translation>redeemed after the voucher was frozen</translation>
    </message>
    <message>
      <source>disputed with a redemption elsewhere</source>
      <translation>disputed with a redemption elsewhere</translation>
    </message>
    <message>
      <source>records missing from this counter's chain</source>
      <translation>records missing from this counter's chain</translation>
    </message>
    <message>
      <source>record chain forked (a copied counter?)</source>
      <translation>record chain forked (a copied counter?)</translation>
    </message>
    <message>
      <source>this counter's clock was off</source>
      <translation>this counter's clock was off</translation>
    </message>
    <message>
      <source>not signed by this counter's key</source>
      <translation>not signed by this counter's key</translation>
    </message>
    <message>
      <source>malformed record</source>
      <translation>malformed record</translation>
    </message>
    <message>
      <source>record of another counter</source>
      <translation>record of another counter</translation>
    </message>
    <message>
      <source>issuer unknown to the union office</source>
      <translation>issuer unknown to the union office</translation>
    </message>
    <message>
      <source>forged or altered voucher</source>
      <translation>forged or altered voucher</translation>
    </message>
    <message>
      <source>record does not match its voucher</source>
      <translation>record does not match its voucher</translation>
    </message>
    <message>
      <source>; </source>
      <translation>; </translation>
    </message>
  </context>
  <context>
    <name>MainWindow</name>
    <message>
      <source>This counter cannot start:</source>
      <translation>This counter cannot start:</translation>
    </message>
    <message>
      <source>Call the manager or IT support.</source>
      <translation>Call the manager or IT support.</translation>
    </message>
    <message>
      <source>The void could not be recorded.</source>
      <translation>The void could not be recorded.</translation>
    </message>
  </context>
  <context>
    <name>ManagerFlow</name>
    <message>
      <source>Too many wrong PINs: wait a minute.</source>
      <translation>Too many wrong PINs: wait a minute.</translation>
    </message>
    <message>
      <source>Wrong PIN.</source>
      <translation>Wrong PIN.</translation>
    </message>
    <message>
      <source>The two PINs differ.</source>
      <translation>The two PINs differ.</translation>
    </message>
    <message>
      <source>A PIN is 4 to 12 digits.</source>
      <translation>A PIN is 4 to 12 digits.</translation>
    </message>
    <message>
      <source>Saved: {0}</source>
      <translation>Saved: {0}</translation>
    </message>
    <message>
      <source>Not saved: {0}</source>
      <translation>Not saved: {0}</translation>
    </message>
    <message>
      <source>Settings saved.</source>
      <translation>Settings saved.</translation>
    </message>
    <message>
      <source>PIN changed.</source>
      <translation>PIN changed.</translation>
    </message>
    <message>
      <source>Sync started...</source>
      <translation>Sync started...</translation>
    </message>
  </context>
  <context>
    <name>ManagerView</name>
    <message>
      <source>Manager view</source>
      <translation>Manager view</translation>
    </message>
    <message>
      <source>Back to scanning</source>
      <translation>Back to scanning</translation>
    </message>
    <message>
      <source>Close the program</source>
      <translation>Close the program</translation>
    </message>
    <message>
      <source>Tally</source>
      <translation>Tally</translation>
    </message>
    <message>
      <source>Duplicates</source>
      <translation>Duplicates</translation>
    </message>
    <message>
      <source>Held by the server</source>
      <translation>Held by the server</translation>
    </message>
    <message>
      <source>Settings</source>
      <translation>Settings</translation>
    </message>
    <message>
      <source>Today</source>
      <translation>Today</translation>
    </message>
    <message>
      <source>Day:</source>
      <translation>Day:</translation>
    </message>
    <message>
      <source>Accepted</source>
      <translation>Accepted</translation>
    </message>
    <message>
      <source>Rejected</source>
      <translation>Rejected</translation>
    </message>
    <message>
      <source>Voided</source>
      <translation>Voided</translation>
    </message>
    <message>
      <source>Unsynced</source>
      <translation>Unsynced</translation>
    </message>
    <message>
      <source>Synced</source>
      <translation>Synced</translation>
    </message>
    <message>
      <source>Admissions by hour</source>
      <translation>Admissions by hour</translation>
    </message>
    <message>
      <source>Staff</source>
      <translation>Staff</translation>
    </message>
    <message>
      <source>Counter</source>
      <translation>Counter</translation>
    </message>
    <message>
      <source>Reason</source>
      <translation>Reason</translation>
    </message>
    <message>
      <source>Count</source>
      <translation>Count</translation>
    </message>
    <message>
      <source>Export CSV</source>
      <translation>Export CSV</translation>
    </message>
    <message>
      <source>Export XLSX</source>
      <translation>Export XLSX</translation>
    </message>
    <message>
      <source>Print daily report (PDF)</source>
      <translation>Print daily report (PDF)</translation>
    </message>
    <message>
      <source>From</source>
      <translation>From</translation>
    </message>
    <message>
      <source>to</source>
      <translation>to</translation>
    </message>
    <message>
      <source>Folder:</source>
      <translation>Folder:</translation>
    </message>
    <message>
      <source>(not signed in)</source>
      <translation>(not signed in)</translation>
    </message>
    <message>
      <source>Voucher</source>
      <translation>Voucher</translation>
    </message>
    <message>
      <source>Here: time</source>
      <translation>Here: time</translation>
    </message>
    <message>
      <source>Here: staff</source>
      <translation>Here: staff</translation>
    </message>
    <message>
      <source>Other: cinema / counter</source>
      <translation>Other: cinema / counter</translation>
    </message>
    <message>
      <source>Other: time</source>
      <translation>Other: time</translation>
    </message>
    <message>
      <source>Other: staff</source>
      <translation>Other: staff</translation>
    </message>
    <message>
      <source>The central server found these vouchers used at this counter and elsewhere. The earlier use is the valid one.</source>
      <translation>The central server found these vouchers used at this counter and elsewhere. The earlier use is the valid one.</translation>
    </message>
    <message>
      <source>Duplicates ({0})</source>
      <translation>Duplicates ({0})</translation>
    </message>
    <message>
      <source>Held by the server ({0})</source>
      <translation>Held by the server ({0})</translation>
    </message>
    <message>
      <source>Camera number (0, 1...) or a video/image file</source>
      <translation>Camera number (0, 1...) or a video/image file</translation>
    </message>
    <message>
      <source>Play a sound for each verdict</source>
      <translation>Play a sound for each verdict</translation>
    </message>
    <message>
      <source> s (0 = until the next scan)</source>
      <translation> s (0 = until the next scan)</translation>
    </message>
    <message>
      <source>One name per line</source>
      <translation>One name per line</translation>
    </message>
    <message>
      <source>Kiosk mode (full screen, leaving needs the PIN)</source>
      <translation>Kiosk mode (full screen, leaving needs the PIN)</translation>
    </message>
    <message>
      <source>Save settings</source>
      <translation>Save settings</translation>
    </message>
    <message>
      <source>Camera:</source>
      <translation>Camera:</translation>
    </message>
    <message>
      <source>Language:</source>
      <translation>Language:</translation>
    </message>
    <message>
      <source>Sound:</source>
      <translation>Sound:</translation>
    </message>
    <message>
      <source>Verdict stays:</source>
      <translation>Verdict stays:</translation>
    </message>
    <message>
      <source>Staff names:</source>
      <translation>Staff names:</translation>
    </message>
    <message>
      <source>Central server</source>
      <translation>Central server</translation>
    </message>
    <message>
      <source>Sync now</source>
      <translation>Sync now</translation>
    </message>
    <message>
      <source>Change PIN</source>
      <translation>Change PIN</translation>
    </message>
    <message>
      <source>New PIN</source>
      <translation>New PIN</translation>
    </message>
    <message>
      <source>Repeat the new PIN</source>
      <translation>Repeat the new PIN</translation>
    </message>
    <message>
      <source>Server: {0}</source>
      <translation>Server: {0}</translation>
    </message>
    <message>
      <source>Standalone counter (no central server)</source>
      <translation>Standalone counter (no central server)</translation>
    </message>
  </context>
  <context>
    <name>PinGate</name>
    <message>
      <source>Repeat the new PIN</source>
      <translation>Repeat the new PIN</translation>
    </message>
    <message>
      <source>Open manager view</source>
      <translation>Open manager view</translation>
    </message>
    <message>
      <source>Back to scanning</source>
      <translation>Back to scanning</translation>
    </message>
    <message>
      <source>Choose a manager PIN (4 to 12 digits)</source>
      <translation>Choose a manager PIN (4 to 12 digits)</translation>
    </message>
    <message>
      <source>New PIN</source>
      <translation>New PIN</translation>
    </message>
    <message>
      <source>Manager PIN</source>
      <translation>Manager PIN</translation>
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
      <translation>Camera not available: use the scanner or type the code</translation>
    </message>
    <message>
      <source>Camera lost: reconnecting...</source>
      <translation>Camera lost: reconnecting...</translation>
    </message>
    <message>
      <source>Starting camera...</source>
      <translation>Starting camera...</translation>
    </message>
    <message>
      <source>No camera configured: use the scanner or type the code</source>
      <translation>No camera configured: use the scanner or type the code</translation>
    </message>
  </context>
  <context>
    <name>ScanScreen</name>
    <message>
      <source>Next admission:</source>
      <translation>Next admission:</translation>
    </message>
    <message>
      <source>Manager</source>
      <translation>Manager</translation>
    </message>
    <message>
      <source>Staff:</source>
      <translation>Staff:</translation>
    </message>
    <message>
      <source>Type the short code, e.g. ABCD-EFGH-JKMN-PQRS</source>
      <translation>Type the short code, e.g. ABCD-EFGH-JKMN-PQRS</translation>
    </message>
    <message>
      <source>Check code</source>
      <translation>Check code</translation>
    </message>
    <message>
      <source>Undo last</source>
      <translation>Undo last</translation>
    </message>
    <message>
      <source>Yes, void it</source>
      <translation>Yes, void it</translation>
    </message>
    <message>
      <source>Cancel</source>
      <translation>Cancel</translation>
    </message>
    <message>
      <source>(nobody signed in)</source>
      <translation>(nobody signed in)</translation>
    </message>
    <message>
      <source>Void the last admission? The guest must not go in on it.</source>
      <translation>Void the last admission? The guest must not go in on it.</translation>
    </message>
  </context>
  <context>
    <name>SetupWizard</name>
    <message>
      <source>Set up this counter</source>
      <translation>Set up this counter</translation>
    </message>
    <message>
      <source>This computer is not set up as a CinePass counter yet. Enter the enrolment code from the union office, or set it up as a standalone counter.</source>
      <translation>This computer is not set up as a CinePass counter yet. Enter the enrolment code from the union office, or set it up as a standalone counter.</translation>
    </message>
    <message>
      <source>Data folder: {0}</source>
      <translation>Data folder: {0}</translation>
    </message>
    <message>
      <source>Connect to the central server (recommended)</source>
      <translation>Connect to the central server (recommended)</translation>
    </message>
    <message>
      <source>Standalone counter (no server)</source>
      <translation>Standalone counter (no server)</translation>
    </message>
    <message>
      <source>Central server</source>
      <translation>Central server</translation>
    </message>
    <message>
      <source>One-time code from the union office</source>
      <translation>One-time code from the union office</translation>
    </message>
    <message>
      <source>Server address:</source>
      <translation>Server address:</translation>
    </message>
    <message>
      <source>Enrolment code:</source>
      <translation>Enrolment code:</translation>
    </message>
    <message>
      <source>Standalone counter</source>
      <translation>Standalone counter</translation>
    </message>
    <message>
      <source>e.g. SH-001</source>
      <translation>e.g. SH-001</translation>
    </message>
    <message>
      <source>Path of the issuer's public key (.pem)</source>
      <translation>Path of the issuer's public key (.pem)</translation>
    </message>
    <message>
      <source>Cinema code:</source>
      <translation>Cinema code:</translation>
    </message>
    <message>
      <source>Issuer key file:</source>
      <translation>Issuer key file:</translation>
    </message>
    <message>
      <source>e.g. Window 1</source>
      <translation>e.g. Window 1</translation>
    </message>
    <message>
      <source>Name of this counter:</source>
      <translation>Name of this counter:</translation>
    </message>
    <message>
      <source>Set up</source>
      <translation>Set up</translation>
    </message>
    <message>
      <source>Enter the server address and the enrolment code.</source>
      <translation>Enter the server address and the enrolment code.</translation>
    </message>
    <message>
      <source>Enter the cinema code and the issuer key file.</source>
      <translation>Enter the cinema code and the issuer key file.</translation>
    </message>
    <message>
      <source>Setting up...</source>
      <translation>Setting up...</translation>
    </message>
    <message>
      <source>The enrolment code is wrong: check it or ask for a new one.</source>
      <translation>The enrolment code is wrong: check it or ask for a new one.</translation>
    </message>
    <message>
      <source>This enrolment code was already used: ask for a new one.</source>
      <translation>This enrolment code was already used: ask for a new one.</translation>
    </message>
    <message>
      <source>This enrolment code has expired: ask for a new one.</source>
      <translation>This enrolment code has expired: ask for a new one.</translation>
    </message>
    <message>
      <source>Too many wrong codes: wait 15 minutes, then retry.</source>
      <translation>Too many wrong codes: wait 15 minutes, then retry.</translation>
    </message>
    <message>
      <source>The server cannot be reached: check the network.</source>
      <translation>The server cannot be reached: check the network.</translation>
    </message>
    <message>
      <source>The server did not answer in time: try again.</source>
      <translation>The server did not answer in time: try again.</translation>
    </message>
    <message>
      <source>The server address is not valid (https://...).</source>
      <translation>The server address is not valid (https://...).</translation>
    </message>
    <message>
      <source>Plain http:// is refused for this server: use https://.</source>
      <translation>Plain http:// is refused for this server: use https://.</translation>
    </message>
    <message>
      <source>The server's certificate has expired: call IT.</source>
      <translation>The server's certificate has expired: call IT.</translation>
    </message>
    <message>
      <source>The server's certificate is for another name: call IT.</source>
      <translation>The server's certificate is for another name: call IT.</translation>
    </message>
    <message>
      <source>The server's certificate is not trusted: call IT.</source>
      <translation>The server's certificate is not trusted: call IT.</translation>
    </message>
    <message>
      <source>The issuer key file cannot be read: check the path.</source>
      <translation>The issuer key file cannot be read: check the path.</translation>
    </message>
    <message>
      <source>That file is not the issuer's public key (.pem).</source>
      <translation>That file is not the issuer's public key (.pem).</translation>
    </message>
    <message>
      <source>The cinema code is not valid.</source>
      <translation>The cinema code is not valid.</translation>
    </message>
    <message>
      <source>This data folder is already set up.</source>
      <translation>This data folder is already set up.</translation>
    </message>
  </context>
  <context>
    <name>StatusBar</name>
    <message>
      <source>Standalone</source>
      <translation>Standalone</translation>
    </message>
    <message>
      <source>Counter revoked by the server</source>
      <translation>Counter revoked by the server</translation>
    </message>
    <message>
      <source>Online</source>
      <translation>Online</translation>
    </message>
    <message>
      <source>Offline</source>
      <translation>Offline</translation>
    </message>
    <message>
      <source>Unsynced: {0}</source>
      <translation>Unsynced: {0}</translation>
    </message>
    <message>
      <source>Last sync: {0}</source>
      <translation>Last sync: {0}</translation>
    </message>
    <message>
      <source>never</source>
      <translation>never</translation>
    </message>
    <message>
      <source>Clock OK</source>
      <translation>Clock OK</translation>
    </message>
    <message>
      <source>Clock is behind!</source>
      <translation>Clock is behind!</translation>
    </message>
    <message>
      <source>Camera OK</source>
      <translation>Camera OK</translation>
    </message>
    <message>
      <source>Camera lost</source>
      <translation>Camera lost</translation>
    </message>
    <message>
      <source>Camera reconnecting</source>
      <translation>Camera reconnecting</translation>
    </message>
    <message>
      <source>Camera stopped</source>
      <translation>Camera stopped</translation>
    </message>
    <message>
      <source>Camera starting</source>
      <translation>Camera starting</translation>
    </message>
    <message>
      <source>No camera</source>
      <translation>No camera</translation>
    </message>
    <message>
      <source>Counter: {0}</source>
      <translation>Counter: {0}</translation>
    </message>
    <message>
      <source>Staff: {0}</source>
      <translation>Staff: {0}</translation>
    </message>
    <message>
      <source>nobody signed in</source>
      <translation>nobody signed in</translation>
    </message>
    <message>
      <source>Revocation list: local</source>
      <translation>Revocation list: local</translation>
    </message>
    <message>
      <source>Revocation list: never updated</source>
      <translation>Revocation list: never updated</translation>
    </message>
    <message>
      <source>Revocation list: {0} min old</source>
      <translation>Revocation list: {0} min old</translation>
    </message>
    <message>
      <source>Revocation list: {0:.1f} h old</source>
      <translation>Revocation list: {0:.1f} h old</translation>
    </message>
    <message>
      <source>No server: export the tally to settle.</source>
      <translation>No server: export the tally to settle.</translation>
    </message>
    <message>
      <source>Last error: {0}</source>
      <translation>Last error: {0}</translation>
    </message>
  </context>
  <context>
    <name>VerdictPanel</name>
    <message>
      <source>READY</source>
      <translation>READY</translation>
    </message>
    <message>
      <source>Scan a voucher</source>
      <translation>Scan a voucher</translation>
    </message>
    <message>
      <source>Hold the QR code up to the camera, use the scanner, or type the short code.</source>
      <translation>Hold the QR code up to the camera, use the scanner, or type the short code.</translation>
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
      <translation>lost</translation>
    </message>
    <message>
      <source>stolen</source>
      <translation>stolen</translation>
    </message>
    <message>
      <source>fraud</source>
      <translation>fraud</translation>
    </message>
    <message>
      <source>replaced by a new voucher</source>
      <translation>replaced by a new voucher</translation>
    </message>
    <message>
      <source>frozen</source>
      <translation>frozen</translation>
    </message>
    <message>
      <source>ADMIT</source>
      <translation>ADMIT</translation>
    </message>
    <message>
      <source>Holder: {0}</source>
      <translation>Holder: {0}</translation>
    </message>
    <message>
      <source>(no name)</source>
      <translation>(no name)</translation>
    </message>
    <message>
      <source>Format: {0}</source>
      <translation>Format: {0}</translation>
    </message>
    <message>
      <source>Code: {0}</source>
      <translation>Code: {0}</translation>
    </message>
    <message>
      <source>Admission {0} of {1}</source>
      <translation>Admission {0} of {1}</translation>
    </message>
    <message>
      <source>USED</source>
      <translation>USED</translation>
    </message>
    <message>
      <source>Used at: {0}</source>
      <translation>Used at: {0}</translation>
    </message>
    <message>
      <source>this counter</source>
      <translation>this counter</translation>
    </message>
    <message>
      <source>another counter</source>
      <translation>another counter</translation>
    </message>
    <message>
      <source>Counter: {0}</source>
      <translation>Counter: {0}</translation>
    </message>
    <message>
      <source>By: {0}</source>
      <translation>By: {0}</translation>
    </message>
    <message>
      <source>(not signed in)</source>
      <translation>(not signed in)</translation>
    </message>
    <message>
      <source>STOP</source>
      <translation>STOP</translation>
    </message>
    <message>
      <source>Reason: {0}</source>
      <translation>Reason: {0}</translation>
    </message>
    <message>
      <source>Valid until: {0}</source>
      <translation>Valid until: {0}</translation>
    </message>
    <message>
      <source>Chosen: {0}   Voucher allows: {1}</source>
      <translation>Chosen: {0}   Voucher allows: {1}</translation>
    </message>
    <message>
      <source>Warning: this counter's clock is behind; tell the manager.</source>
      <translation>Warning: this counter's clock is behind; tell the manager.</translation>
    </message>
  </context>
  <context>
    <name>Verdict</name>
    <message>
      <source>Accepted</source>
      <comment>accepted</comment>
      <translation>Accepted</translation>
    </message>
    <message>
      <source>Admit the guest.</source>
      <comment>accepted.next</comment>
      <translation>Admit the guest.</translation>
    </message>
    <message>
      <source>Already used</source>
      <comment>already_redeemed</comment>
      <translation>Already used</translation>
    </message>
    <message>
      <source>Do not admit; ask the manager to check the earlier use.</source>
      <comment>already_redeemed.next</comment>
      <translation>Do not admit; ask the manager to check the earlier use.</translation>
    </message>
    <message>
      <source>Voucher frozen</source>
      <comment>revoked</comment>
      <translation>Voucher frozen</translation>
    </message>
    <message>
      <source>Do not admit; the member should contact the union office.</source>
      <comment>revoked.next</comment>
      <translation>Do not admit; the member should contact the union office.</translation>
    </message>
    <message>
      <source>Reserved online</source>
      <comment>held</comment>
      <translation>Reserved online</translation>
    </message>
    <message>
      <source>Do not admit; an online order holds it. Ask the manager.</source>
      <comment>held.next</comment>
      <translation>Do not admit; an online order holds it. Ask the manager.</translation>
    </message>
    <message>
      <source>Voucher expired</source>
      <comment>expired</comment>
      <translation>Voucher expired</translation>
    </message>
    <message>
      <source>Do not admit; the member should contact the union office.</source>
      <comment>expired.next</comment>
      <translation>Do not admit; the member should contact the union office.</translation>
    </message>
    <message>
      <source>Not yet valid</source>
      <comment>not_yet_valid</comment>
      <translation>Not yet valid</translation>
    </message>
    <message>
      <source>Do not admit; check this counter's date and time.</source>
      <comment>not_yet_valid.next</comment>
      <translation>Do not admit; check this counter's date and time.</translation>
    </message>
    <message>
      <source>Not valid at this cinema</source>
      <comment>wrong_cinema</comment>
      <translation>Not valid at this cinema</translation>
    </message>
    <message>
      <source>Do not admit; tell the guest where it can be used.</source>
      <comment>wrong_cinema.next</comment>
      <translation>Do not admit; tell the guest where it can be used.</translation>
    </message>
    <message>
      <source>Not valid for this format</source>
      <comment>wrong_format</comment>
      <translation>Not valid for this format</translation>
    </message>
    <message>
      <source>Switch 2D/3D and scan again, or choose another show.</source>
      <comment>wrong_format.next</comment>
      <translation>Switch 2D/3D and scan again, or choose another show.</translation>
    </message>
    <message>
      <source>Forged or altered voucher</source>
      <comment>bad_signature</comment>
      <translation>Forged or altered voucher</translation>
    </message>
    <message>
      <source>Do not admit; call the manager.</source>
      <comment>bad_signature.next</comment>
      <translation>Do not admit; call the manager.</translation>
    </message>
    <message>
      <source>Unknown issuer</source>
      <comment>unknown_key</comment>
      <translation>Unknown issuer</translation>
    </message>
    <message>
      <source>Do not admit; sync this counter and retry, else call the manager.</source>
      <comment>unknown_key.next</comment>
      <translation>Do not admit; sync this counter and retry, else call the manager.</translation>
    </message>
    <message>
      <source>Unknown code</source>
      <comment>unknown_code</comment>
      <translation>Unknown code</translation>
    </message>
    <message>
      <source>Check the code and type it again, or scan the QR code.</source>
      <comment>unknown_code.next</comment>
      <translation>Check the code and type it again, or scan the QR code.</translation>
    </message>
    <message>
      <source>Damaged code</source>
      <comment>malformed</comment>
      <translation>Damaged code</translation>
    </message>
    <message>
      <source>Scan again; if it still fails, type the short code.</source>
      <comment>malformed.next</comment>
      <translation>Scan again; if it still fails, type the short code.</translation>
    </message>
    <message>
      <source>Not a voucher</source>
      <comment>not_a_voucher</comment>
      <translation>Not a voucher</translation>
    </message>
    <message>
      <source>Scan the QR code on the movie voucher.</source>
      <comment>not_a_voucher.next</comment>
      <translation>Scan the QR code on the movie voucher.</translation>
    </message>
    <message>
      <source>Not recorded: do not admit</source>
      <comment>not_recorded</comment>
      <translation>Not recorded: do not admit</translation>
    </message>
    <message>
      <source>This counter cannot save; retry, else call the manager.</source>
      <comment>not_recorded.next</comment>
      <translation>This counter cannot save; retry, else call the manager.</translation>
    </message>
    <message>
      <source>This counter was disconnected by the union office</source>
      <comment>device_revoked</comment>
      <translation>This counter was disconnected by the union office</translation>
    </message>
    <message>
      <source>Do not admit; IT must enrol this counter again before it can redeem.</source>
      <comment>device_revoked.next</comment>
      <translation>Do not admit; IT must enrol this counter again before it can redeem.</translation>
    </message>
    <message>
      <source>The computer's clock is wrong, call IT</source>
      <comment>clock_behind</comment>
      <translation>The computer's clock is wrong, call IT</translation>
    </message>
    <message>
      <source>Do not admit; IT must correct this PC's date and time, then sync once.</source>
      <comment>clock_behind.next</comment>
      <translation>Do not admit; IT must correct this PC's date and time, then sync once.</translation>
    </message>
  </context>
  <context>
    <name>Void</name>
    <message>
      <source>Redemption voided</source>
      <comment>voided</comment>
      <translation>Redemption voided</translation>
    </message>
    <message>
      <source>Too late: voids are allowed for 10 minutes</source>
      <comment>too_late</comment>
      <translation>Too late: voids are allowed for 10 minutes</translation>
    </message>
    <message>
      <source>Nothing to void</source>
      <comment>nothing_to_void</comment>
      <translation>Nothing to void</translation>
    </message>
    <message>
      <source>Already voided</source>
      <comment>already_voided</comment>
      <translation>Already voided</translation>
    </message>
    <message>
      <source>Void not recorded: storage failed</source>
      <comment>not_recorded</comment>
      <translation>Void not recorded: storage failed</translation>
    </message>
  </context>
</TS>