"""A runbook as Azure Automation receives it: the file's param() block, the shared module, then the file's body, as one text.

Automation runs each runbook as one script and imports no module from this repo, so the helpers every runbook shares live once
in scripts/windows/ExoCommon.psm1 (the Windows host scripts import the same file) and are put into each runbook's text here. The
param() block stays first (PowerShell needs it to be the script's first statement), and the whole text is what is uploaded, hashed
and published. It carries no `#Requires`: Automation does not support the statement "in Azure sandbox or on Hybrid Runbook Workers"
and it "might cause the job to fail" (MicrosoftDocs/azure-docs articles/automation/automation-runbook-types.md, PowerShell 5.1
limitations, @00a3ebd0). The module's own `#Requires` (for the Windows host scripts that import it) is left out, and a runbook that
has one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from exo.powershell_script import parser

MODULE_PATH = "scripts/windows/ExoCommon.psm1"
"""The shared module, relative to the project directory."""
MODULE_BEGIN = f"# ---- begin {MODULE_PATH} (put here by exo-automation when it publishes the runbook; edit that file) ----"
MODULE_END = f"# ---- end {MODULE_PATH} ----"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class AssembledRunbook:
    text: str
    """The text Automation gets (UTF-8, no byte order mark)."""
    module_lines: tuple[int, int]
    """First and last line (1-based) of the module inside `text`, markers included: where an error line points."""


def _is_requires(line: str) -> bool:
    return line.lstrip().lower().startswith("#requires")


def assemble(runbook: bytes, module: bytes) -> AssembledRunbook:
    """The published text of `runbook` with `module` put after its param() block. Raises ValueError when the runbook has no
    script-level param() block (there would be nowhere to put the module that keeps param() first) or a `#Requires` line."""
    runbook = runbook.removeprefix(_BOM)
    module = module.removeprefix(_BOM)
    root = parser().parse(runbook).root_node
    block = next((child for child in root.children if child.type == "param_block"), None)
    if block is None:
        raise ValueError("has no script-level param() block: the program puts the shared module right after it")
    head = runbook[: block.end_byte].decode("utf-8")
    body = runbook[block.end_byte :].decode("utf-8")
    requires = next((number for number, line in enumerate(runbook.decode("utf-8").splitlines(), 1) if _is_requires(line)), None)
    if requires is not None:
        raise ValueError(
            f"has a #Requires statement (line {requires}), which Azure Automation does not support and which can fail the job "
            "(azure-docs automation-runbook-types.md): remove it"
        )
    module_body = "\n".join(line for line in module.decode("utf-8").splitlines() if not _is_requires(line))
    before_module = f"{head}\n\n"
    module_part = f"{MODULE_BEGIN}\n{module_body.strip()}\n{MODULE_END}\n"
    first = before_module.count("\n") + 1
    last = first + module_part.count("\n") - 1
    return AssembledRunbook(text=f"{before_module}{module_part}{body}", module_lines=(first, last))
