"""Compatibility module: the client-side operations moved to client/ (declarations.py,
rounds.py, schedule.py, inputs.py, errors.py). The portal, the benchmarks and the tests still
import these names from here; this module goes once they import client/ directly."""

from __future__ import annotations

from client.declarations import DECLARATION_WORKFLOW_TYPE as DECLARATION_WORKFLOW_TYPE
from client.declarations import DeclarationListing as DeclarationListing
from client.declarations import act as act
from client.declarations import declaration_state as declaration_state
from client.declarations import integrity_block as integrity_block
from client.declarations import list_declarations as list_declarations
from client.declarations import start_declaration as start_declaration
from client.declarations import start_declaration_in_round as start_declaration_in_round
from client.declarations import visibility_query as visibility_query
from client.declarations import with_integrity_block as with_integrity_block
from client.errors import ActionTimeout as ActionTimeout
from client.inputs import ROUND_UPDATES as ROUND_UPDATES
from client.inputs import SYSTEM_FIELDS as SYSTEM_FIELDS
from client.inputs import DeclarationFile as DeclarationFile
from client.inputs import action_models as action_models
from client.inputs import action_payload as action_payload
from client.inputs import declaration_input as declaration_input
from client.inputs import round_action_payload as round_action_payload
from client.rounds import ROUND_WORKFLOW_TYPE as ROUND_WORKFLOW_TYPE
from client.rounds import round_act as round_act
from client.rounds import round_state as round_state
from client.rounds import running_round_config as running_round_config
from client.rounds import start_round as start_round
from client.rounds import wait_for_operation as wait_for_operation
from client.schedule import ScheduleView as ScheduleView
from client.schedule import create_round_schedule as create_round_schedule
from client.schedule import describe_round_schedule as describe_round_schedule
from client.schedule import round_schedule as round_schedule
