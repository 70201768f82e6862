# mypy: ignore-errors
# Test target for command-injection.yaml (semgrep --test); never imported.
import asyncio
import os
import shlex
import subprocess
from subprocess import check_output

BACKUP_CMD = "tar czf /tmp/backup.tgz /srv/data"


def ping(host):
    # ruleid: turbosec.python.command-injection
    return subprocess.check_output("ping -c 1 " + host, shell=True)


def run_formatted(path):
    # ruleid: turbosec.python.command-injection
    subprocess.run(f"ls -l {path}", shell=True, check=True)


def popen_keyword(cmd):
    # ruleid: turbosec.python.command-injection
    return subprocess.Popen(args=cmd, shell=True)


def imported_name(name):
    # ruleid: turbosec.python.command-injection
    return check_output("grep %s /etc/passwd" % name, shell=True)


def os_system(filename):
    # ruleid: turbosec.python.command-injection
    os.system("rm -f /tmp/" + filename)


def os_popen(branch):
    # ruleid: turbosec.python.command-injection
    return os.popen("git log " + branch).read()


def getoutput(user):
    # ruleid: turbosec.python.command-injection
    return subprocess.getoutput("id " + user)


async def asyncio_shell(url):
    # ruleid: turbosec.python.command-injection
    await asyncio.create_subprocess_shell(f"curl {url}")


def safe_list(host):
    # ok: turbosec.python.command-injection
    return subprocess.check_output(["ping", "-c", "1", host])


def safe_no_shell(cmd):
    # ok: turbosec.python.command-injection
    return subprocess.run(cmd, check=True)


def constant_shell():
    # ok: turbosec.python.command-injection
    subprocess.run("ls -l | wc -l", shell=True, check=True)
    # ok: turbosec.python.command-injection
    os.system(BACKUP_CMD)
    # ok: turbosec.python.command-injection
    os.system("uptime")


def quoted(path):
    # ok: turbosec.python.command-injection
    subprocess.run("ls -l " + shlex.quote(path), shell=True, check=True)
    # ok: turbosec.python.command-injection
    os.system(shlex.join(["ls", "-l", path]))
