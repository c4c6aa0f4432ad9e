"""Stand-in for dbt's ``adapter`` object, for sqlfluff's jinja templater only.

``adapter.dispatch('name', 'tierwise')(args)`` renders as a call ``name(args)``: a
plausible SQL function call, so files using dispatched macros parse and lint. Empty
optional arguments are left out. A dispatched ``*_config`` macro (a model's config by
engine, macros/engine.sql) gives no config: there is no SQL in it to lint. A dispatched
macro that returns a whole query (``QUERIES``) renders as a select from a table function.
"""

QUERIES = {"tierwise_keys_of_replaced_versions"}


def dispatch(macro_name, macro_namespace=None):
    def render(*args):
        if macro_name.endswith("_config"):
            return {}
        call = f"{macro_name}({', '.join(str(arg) for arg in args if arg != '')})"
        return f"select * from {call}" if macro_name in QUERIES else call

    return render
