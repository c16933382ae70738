; Inno Setup script of the CinePass counter app (Windows, per-machine).
;
; Build (after `python packaging\build.py`):
;   iscc /DAppVersion=0.1.0 packaging\windows\installer.iss
; -> dist\installer\cinepass-kiosk-0.1.0-setup.exe
;
; Silent install by IT (software deployment), optionally with a provisioning file:
;   cinepass-kiosk-0.1.0-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
;       /TASKS="desktopicon,autostart" /PROVISION="\\server\share\cinepass-provision.json"
;
; Why it is written this way:
; * One fixed AppId: a newer setup recognises the installed version and
;   upgrades it in place (same folder, same shortcuts), no uninstall needed.
; * The program goes to Program Files (read-only for the clerk); the data
;   folder (%LOCALAPPDATA%\cinepass: store, keys, backups, logs) is never
;   touched by install, upgrade or uninstall. The first start of a new
;   version backs the store up and migrates it (kiosk.ops.upgrade).
; * [InstallDelete] clears the old _internal folder before copying, so no
;   library of the previous version lingers next to the new ones.
; * CloseApplications: the running window is closed for the upgrade (its
;   data is safe: every accepted redemption is committed before it says so).
; * The provisioning file is copied next to the executable with "modify"
;   rights for users, so the kiosk (running as the clerk) can delete it
;   after the one use.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "CinePass"
#define Dist "..\..\dist\cinepass-kiosk"

[Setup]
AppId={{6F3B2C1E-5D4A-4B8E-9C7F-2A1D0E9B8C7A}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=CinePass
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\CinePass
DefaultGroupName=CinePass
DisableProgramGroupPage=yes
DisableDirPage=auto
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\installer
OutputBaseFilename=cinepass-kiosk-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes
RestartApplications=no
UninstallDisplayIcon={app}\CinePass.exe
UsePreviousTasks=yes
SetupLogging=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; GroupDescription: "Shortcuts:"
Name: "autostart"; Description: "Start CinePass when Windows starts"; GroupDescription: "Start-up:"

[InstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Dist}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{param:PROVISION|}"; DestDir: "{app}"; DestName: "cinepass-provision.json"; \
    Flags: external skipifsourcedoesntexist; Permissions: users-modify; Check: HasProvisionFile

[Icons]
Name: "{autoprograms}\CinePass"; Filename: "{app}\CinePass.exe"
Name: "{autodesktop}\CinePass"; Filename: "{app}\CinePass.exe"; Tasks: desktopicon

[Registry]
; Start with Windows for every user who logs on at this counter.
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; \
    ValueName: "CinePass"; ValueData: """{app}\CinePass.exe"""; Flags: uninsdeletevalue; Tasks: autostart
; Unticking the task on an upgrade removes the value again.
Root: HKLM; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: none; \
    ValueName: "CinePass"; Flags: deletevalue; Tasks: not autostart

[Run]
Filename: "{app}\CinePass.exe"; Description: "Start CinePass now"; Flags: nowait postinstall skipifsilent

[Code]
function HasProvisionFile: Boolean;
begin
  Result := ExpandConstant('{param:PROVISION|}') <> '';
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  ResultCode: Integer;
begin
  { The installed copy checks itself (imports, Qt, decoders, signature, store). }
  if CurStep = ssPostInstall then
  begin
    if not Exec(ExpandConstant('{app}\cinepass-kiosk.exe'), '--self-test', '', SW_HIDE,
                ewWaitUntilTerminated, ResultCode) or (ResultCode <> 0) then
    begin
      Log(Format('cinepass-kiosk --self-test failed (exit %d)', [ResultCode]));
      SuppressibleMsgBox('The CinePass self-test failed after installing. Run ' +
        '"cinepass-kiosk.exe --self-test" in the program folder to see what is missing.',
        mbError, MB_OK, IDOK);
    end
    else
      Log('cinepass-kiosk --self-test passed');
  end;
end;
