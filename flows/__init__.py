"""Prefect flows: compositions of the stage tasks, one file per flow (evolve, cycle, bootstrap, evaluate, report).

Installed as nngpt_flows (this folder is flows/ in the checkout). Flows compose nngpt_tasks; tasks never
import flows.
"""
