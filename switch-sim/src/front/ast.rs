//! The syntax tree of the P4_16 subset switch-sim reads.

use crate::error::Pos;

#[derive(Debug, Clone)]
pub enum TypeRef {
    Bit(u32),
    Int(u32),
    Varbit(u32),
    Bool,
    Error,
    String,
    Void,
    /// A named type with optional type arguments (`counter<bit<32>>`).
    Named(String, Vec<TypeRef>),
    /// `T[n]`, a header stack.
    Stack(Box<TypeRef>, Box<Expr>),
    /// `_` or another form switch-sim refuses later.
    DontCare,
}

#[derive(Debug, Clone)]
pub struct Annotation {
    pub name: String,
    pub pos: Pos,
    /// The first string argument, e.g. `@name("x")`.
    pub string: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub pos: Pos,
    pub kind: ExprKind,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int { value: u128, width: Option<u32>, signed: bool },
    Bool(bool),
    Str(String),
    Name(String),
    /// `.name`: the top-level scope.
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Box<Expr>, Box<Expr>),
    Call { func: Box<Expr>, type_args: Vec<TypeRef>, args: Vec<Arg> },
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Cast(TypeRef, Box<Expr>),
    List(Vec<Expr>),
    /// `default` / `_` in keysets.
    Default,
    /// `a &&& b`, `a .. b` in keysets.
    Mask(Box<Expr>, Box<Expr>),
    Range(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub name: Option<String>,
    pub value: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    None,
    In,
    Out,
    InOut,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub dir: Direction,
    pub ty: TypeRef,
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub ty: TypeRef,
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Stmt {
    Assign { pos: Pos, lhs: Expr, rhs: Expr },
    Call { pos: Pos, call: Expr },
    If { pos: Pos, cond: Expr, then: Box<Stmt>, els: Option<Box<Stmt>> },
    Block(Vec<Stmt>),
    Switch { pos: Pos, expr: Expr, cases: Vec<SwitchCase> },
    Var { pos: Pos, ty: TypeRef, name: String, init: Option<Expr> },
    Const { pos: Pos, ty: TypeRef, name: String, init: Expr },
    Exit(Pos),
    Return(Pos, Option<Expr>),
    Empty,
}

#[derive(Debug, Clone)]
pub struct SwitchCase {
    pub pos: Pos,
    /// None is `default`.
    pub label: Option<Expr>,
    /// None: falls through to the next case.
    pub body: Option<Vec<Stmt>>,
}

#[derive(Debug, Clone)]
pub struct ActionDecl {
    pub pos: Pos,
    pub name: String,
    pub annotations: Vec<Annotation>,
    pub params: Vec<Param>,
    pub body: Vec<Stmt>,
}

#[derive(Debug, Clone)]
pub struct KeyElem {
    pub pos: Pos,
    pub expr: Expr,
    pub match_kind: String,
    pub annotations: Vec<Annotation>,
    /// Source text of the key expression (the control-plane name unless
    /// `@name` overrides it).
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct ActionRef {
    pub pos: Pos,
    pub name: String,
    pub args: Vec<Arg>,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone)]
pub struct ConstEntry {
    pub pos: Pos,
    pub keys: Vec<Expr>,
    pub action: ActionRef,
    pub priority: Option<Expr>,
}

#[derive(Debug, Clone)]
pub enum TableProp {
    Key(Vec<KeyElem>),
    Actions(Vec<ActionRef>),
    DefaultAction { pos: Pos, is_const: bool, action: ActionRef },
    Entries { pos: Pos, is_const: bool, entries: Vec<ConstEntry> },
    Other { pos: Pos, name: String, value: Expr },
}

#[derive(Debug, Clone)]
pub struct TableDecl {
    pub pos: Pos,
    pub name: String,
    pub annotations: Vec<Annotation>,
    pub props: Vec<TableProp>,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub pos: Pos,
    pub ty: TypeRef,
    pub args: Vec<Arg>,
    pub name: String,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone)]
pub enum Local {
    Action(ActionDecl),
    Table(TableDecl),
    Instance(Instance),
    Var(Stmt),
}

#[derive(Debug, Clone)]
pub enum Transition {
    Goto(Pos, String),
    Select { pos: Pos, keys: Vec<Expr>, cases: Vec<(Expr, Pos, String)> },
}

#[derive(Debug, Clone)]
pub struct ParserState {
    pub pos: Pos,
    pub name: String,
    pub stmts: Vec<Stmt>,
    pub transition: Option<Transition>,
}

/// A method of an extern object type (`void count(in I index);`).
#[derive(Debug, Clone)]
pub struct ExternMethod {
    pub pos: Pos,
    pub name: String,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone)]
pub enum Decl {
    Const { pos: Pos, ty: TypeRef, name: String, value: Expr },
    Typedef { pos: Pos, ty: TypeRef, name: String },
    Header { pos: Pos, name: String, fields: Vec<Field> },
    HeaderUnion { pos: Pos, name: String, fields: Vec<Field> },
    Struct { pos: Pos, name: String, fields: Vec<Field> },
    Enum { pos: Pos, name: String, underlying: Option<TypeRef>, members: Vec<(String, Option<Expr>)> },
    Error { pos: Pos, names: Vec<String> },
    MatchKind { pos: Pos, names: Vec<String> },
    /// An extern object type: its type parameters (`counter<I>`) and its
    /// methods with their parameters (constructors are not kept).
    Extern { pos: Pos, name: String, type_params: Vec<String>, methods: Vec<ExternMethod> },
    ExternFunction { pos: Pos, name: String },
    /// Parser, control or package type declaration (no body).
    Prototype { pos: Pos, name: String },
    /// `ctor`: constructor parameters (`control C(...)(bit<8> k)`).
    Parser { pos: Pos, name: String, params: Vec<Param>, ctor: Vec<Param>, locals: Vec<Local>, states: Vec<ParserState> },
    Control { pos: Pos, name: String, params: Vec<Param>, ctor: Vec<Param>, locals: Vec<Local>, body: Vec<Stmt> },
    Action(ActionDecl),
    Function { pos: Pos, name: String },
    Instance(Instance),
    ValueSet { pos: Pos, name: String },
}
