/*
 * hostfarm-session — installed in every farm host as /usr/lib/hostfarm/farm-session: sshd's
 * ForceCommand AND root's login shell there. It records what the client asked for, then runs it
 * the way sshd itself would have: `/bin/bash -c COMMAND` for an exec request, the SFTP server
 * (through the bash script farm-sftp, which also records its file operations) for the sftp
 * subsystem, `bash -l` for an interactive session.
 *
 * Why it is root's shell: sshd always starts a session as `SHELL -c FORCECOMMAND`. With bash as
 * the shell that is a bash start-up whose only work is to exec this program — about a fifth of a
 * farm connection's CPU on this machine. As the shell itself, sshd execs it directly.
 *
 * As a shell it must stay transparent for anything that is not an sshd session start (`su -`,
 * a program running `$SHELL -c x`): only the exact call `farm-session -c <its own path>` (or no
 * arguments: run as the ForceCommand by a shell) is a session; everything else is handed to
 * /bin/bash unchanged. Sessions get SHELL=/bin/bash, as on a normal host.
 */
#include "hostfarm-rec.h"

#define SELF "/usr/lib/hostfarm/farm-session"
#define SFTP_SERVER "/usr/lib/openssh/sftp-server"

int main(int argc, char **argv) {
  bool session = argc == 1 || (argc == 3 && strcmp(argv[1], "-c") == 0 &&
                               strcmp(argv[2], SELF) == 0);
  if (!session) {
    argv[0] = (argv[0] && argv[0][0] == '-') ? "-bash" : "bash";
    execv("/bin/bash", argv);
    perror("farm-session: exec /bin/bash");
    return 127;
  }
  char addr[128] = "?";
  hf_read_line(HF_DIR "/addr", addr, sizeof(addr));
  setenv("SHELL", "/bin/bash", 1);
  const char *cmd = getenv("SSH_ORIGINAL_COMMAND");
  if (cmd && strcmp(cmd, SFTP_SERVER) == 0) {
    /* Rare path (file uploads): bash pipes sftp-server's log into records. */
    execl("/bin/bash", "bash", "/usr/lib/hostfarm/farm-sftp", (char *)NULL);
    perror("farm-session: exec farm-sftp");
    return 127;
  }
  if (cmd) {
    /* Newlines are shown as \n so one request stays one record line. */
    size_t n = strlen(cmd), nl = 0;
    for (size_t i = 0; i < n; i++)
      nl += cmd[i] == '\n';
    char *shown = malloc(n + nl + 1);
    if (shown) {
      char *p = shown;
      for (size_t i = 0; i < n; i++) {
        if (cmd[i] == '\n') {
          *p++ = '\\';
          *p++ = 'n';
        } else {
          *p++ = cmd[i];
        }
      }
      *p = '\0';
      hf_record(addr, "exec", shown);
      free(shown);
    }
    execl("/bin/bash", "/bin/bash", "-c", cmd, (char *)NULL);
    perror("farm-session: exec /bin/bash");
    return 127;
  }
  hf_record(addr, "shell", NULL);
  execl("/bin/bash", "/bin/bash", "-l", (char *)NULL);
  perror("farm-session: exec /bin/bash");
  return 127;
}
