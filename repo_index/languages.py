"""Which files are parsed, with which tree-sitter grammar, and the one query per language.

Each query names its captures the same way, so one extractor serves every language:
  @def.class / @def.function / @def.variable  the node of a definition (its span)
  @name        the definition's name
  @body        where the header ends (the signature is the text before it)
  @scope       a node whose name qualifies what it contains but is not listed itself (a Rust impl)
  @decorated   a wrapper whose span includes the decorators of the definition it wraps (@inner)
  @doc / @docblock   a string that is the first statement of a block (a docstring)
  @import      a module the file imports, as written (quotes are stripped)
  @receiver    a Go method's receiver type: the method is listed as Receiver.method
"""

from __future__ import annotations

import keyword
from functools import cache

EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
}

PYTHON = """
(class_definition name: (identifier) @name body: (block) @body) @def.class
(function_definition name: (identifier) @name body: (block) @body) @def.function
(module (expression_statement (assignment left: (identifier) @name) @def.variable))
(decorated_definition definition: (_) @inner) @decorated
(block . (expression_statement (string) @doc)) @docblock
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import)
"""

_JS_COMMON = """
(function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body) @def.function
(method_definition name: (_) @name body: (statement_block) @body) @def.function
(program (lexical_declaration (variable_declarator name: (identifier) @name) @def.variable))
(program (variable_declaration (variable_declarator name: (identifier) @name) @def.variable))
(program (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name) @def.variable)))
(import_statement source: (string (string_fragment) @import))
(call_expression function: (identifier) @_require arguments: (arguments . (string (string_fragment) @import)) (#eq? @_require "require"))
"""

JAVASCRIPT = _JS_COMMON + """
(class_declaration name: (identifier) @name body: (class_body) @body) @def.class
"""

TYPESCRIPT = _JS_COMMON + """
(class_declaration name: (type_identifier) @name body: (class_body) @body) @def.class
(abstract_class_declaration name: (type_identifier) @name body: (class_body) @body) @def.class
(interface_declaration name: (type_identifier) @name body: (_) @body) @def.class
(enum_declaration name: (identifier) @name body: (enum_body) @body) @def.class
(type_alias_declaration name: (type_identifier) @name) @def.class
(function_signature name: (identifier) @name) @def.function
(abstract_method_signature name: (_) @name) @def.function
(method_signature name: (_) @name) @def.function
(internal_module name: (_) @name body: (statement_block) @body) @scope
"""

GO = """
(function_declaration name: (identifier) @name body: (block) @body) @def.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: [(type_identifier) @receiver (pointer_type (type_identifier) @receiver) (generic_type type: (type_identifier) @receiver) (pointer_type (generic_type type: (type_identifier) @receiver))]))
  name: (field_identifier) @name body: (block) @body) @def.function
(type_declaration (type_spec name: (type_identifier) @name type: (_) @body) @def.class)
(source_file (var_declaration (var_spec name: (identifier) @name) @def.variable))
(source_file (const_declaration (const_spec name: (identifier) @name) @def.variable))
(import_spec path: (interpreted_string_literal) @import)
"""

JAVA = """
(class_declaration name: (identifier) @name body: (_) @body) @def.class
(interface_declaration name: (identifier) @name body: (_) @body) @def.class
(enum_declaration name: (identifier) @name body: (_) @body) @def.class
(record_declaration name: (identifier) @name body: (_) @body) @def.class
(annotation_type_declaration name: (identifier) @name body: (_) @body) @def.class
(method_declaration name: (identifier) @name body: (block) @body) @def.function
(method_declaration name: (identifier) @name !body) @def.function
(constructor_declaration name: (identifier) @name body: (_) @body) @def.function
(import_declaration (scoped_identifier) @import)
"""

RUST = """
(struct_item name: (type_identifier) @name body: (_) @body) @def.class
(struct_item name: (type_identifier) @name !body) @def.class
(enum_item name: (type_identifier) @name body: (enum_variant_list) @body) @def.class
(union_item name: (type_identifier) @name body: (field_declaration_list) @body) @def.class
(trait_item name: (type_identifier) @name body: (declaration_list) @body) @def.class
(type_item name: (type_identifier) @name) @def.class
(function_item name: (identifier) @name body: (block) @body) @def.function
(function_signature_item name: (identifier) @name) @def.function
(const_item name: (identifier) @name) @def.variable
(static_item name: (identifier) @name) @def.variable
(impl_item type: [(type_identifier) @name (generic_type type: (type_identifier) @name) (scoped_type_identifier name: (type_identifier) @name)] body: (declaration_list) @body) @scope
(mod_item name: (identifier) @name body: (declaration_list) @body) @scope
(use_declaration argument: (_) @import)
"""

QUERIES = {
    "python": PYTHON,
    "javascript": JAVASCRIPT,
    "typescript": TYPESCRIPT,
    "tsx": TYPESCRIPT,
    "go": GO,
    "java": JAVA,
    "rust": RUST,
}

# Words that look like identifiers but are the language's own.
_C_LIKE = {"if", "else", "for", "while", "do", "return", "break", "continue", "switch", "case", "default", "new", "this", "true", "false", "null", "try", "catch", "finally", "throw", "class", "import", "export", "from", "const", "let", "var", "function", "static", "public", "private", "protected", "void", "extends", "implements", "interface", "package", "typeof", "instanceof", "in", "of", "async", "await", "yield", "super", "enum", "type", "final", "abstract", "throws", "int", "long", "boolean", "char", "byte", "short", "float", "double", "struct", "fn", "impl", "mut", "pub", "use", "mod", "crate", "self", "Self", "match", "loop", "where", "trait", "as", "ref", "move", "unsafe", "dyn", "func", "go", "defer", "chan", "map", "range", "select", "goto", "fallthrough", "nil", "undefined", "delete", "with", "debugger"}
KEYWORDS = {
    "python": frozenset(keyword.kwlist + keyword.softkwlist + ["self", "cls"]),
    **{lang: frozenset(_C_LIKE) for lang in ("javascript", "typescript", "tsx", "go", "java", "rust")},
}


def language_name(grammar: str) -> str:
    """The language a grammar parses, as FileEntry.language and IndexSettings.languages name it."""
    return "typescript" if grammar == "tsx" else grammar


def language_of(path: str) -> str:
    """The grammar for a path by its extension ("tsx" for .tsx files), or "" when none parses it."""
    dot = path.rfind(".")
    return EXTENSIONS.get(path[dot:].lower(), "") if dot > path.rfind("/") else ""


@cache
def grammar(language: str):
    """(tree_sitter.Language, Query) for a language; compiled once per process."""
    import tree_sitter

    if language == "python":
        import tree_sitter_python as module

        capsule = module.language()
    elif language == "javascript":
        import tree_sitter_javascript as module

        capsule = module.language()
    elif language in ("typescript", "tsx"):
        import tree_sitter_typescript as module

        capsule = module.language_tsx() if language == "tsx" else module.language_typescript()
    elif language == "go":
        import tree_sitter_go as module

        capsule = module.language()
    elif language == "java":
        import tree_sitter_java as module

        capsule = module.language()
    elif language == "rust":
        import tree_sitter_rust as module

        capsule = module.language()
    else:
        raise ValueError(f"no grammar for {language!r}")
    lang = tree_sitter.Language(capsule)
    return lang, tree_sitter.Query(lang, QUERIES[language])
